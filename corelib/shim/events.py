"""Task events forwarded to containerd over ttrpc (`Events.Forward` on $TTRPC_ADDRESS), in order,
each retried up to 5 times with a growing pause, as the real shim's RemoteEventsPublisher does."""

from __future__ import annotations

import threading
import time
from _queue import SimpleQueue  # queue.py would bring heapq, for this one class of _queue's

from corelib.api.containerd.services.ttrpc.events.v1 import events_pb2
from corelib.shim import log
from corelib.shim.timestamp import set_timestamp
from corelib.ttrpc.blocking import BlockingClient
from corelib.ttrpc.protocol import ConnectionClosed, TtrpcError

EVENTS_SERVICE = "containerd.services.events.ttrpc.v1.Events"
NAMESPACE_KEY = "containerd-namespace-ttrpc"
MAX_REQUEUE = 5

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Publisher:
    def __init__(self, address: str, namespace: str, retry_pause: float = 1.0):
        self.address = address
        self.namespace = namespace
        self.retry_pause = retry_pause
        self._queue: SimpleQueue = SimpleQueue()
        self._client: BlockingClient | None = None
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._thread.start()

    def publish(self, topic: str, event: object, on_forwarded: Callable[[int, int], None] | None = None) -> None:
        """Queue `event`; `on_forwarded(start_ns, end_ns)` runs once containerd has taken it."""
        envelope = events_pb2.Envelope(namespace=self.namespace, topic=topic)
        set_timestamp(envelope.timestamp, time.time_ns())
        envelope.event.type_url = event.DESCRIPTOR.full_name  # type: ignore[attr-defined]
        envelope.event.value = event.SerializeToString()  # type: ignore[attr-defined]
        self._queue.put((envelope, on_forwarded))

    def defer(self, job: Callable[[], None]) -> None:
        """Run `job` on the publisher's thread, in order with the events: work no call need wait for."""
        self._queue.put(job)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (for up to `timeout` seconds), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if callable(item):
                try:
                    item()
                except Exception as e:  # noqa: BLE001 - a failed job must not stop the events behind it
                    log.error(f"publisher job: {e!r}")
                continue
            envelope, on_forwarded = item
            start = time.time_ns()
            if self._forward(envelope) and on_forwarded is not None:
                on_forwarded(start, time.time_ns())
        if self._client:
            self._client.close()

    def _forward(self, envelope: events_pb2.Envelope) -> bool:
        if not self.address:
            log.debug(f"no TTRPC_ADDRESS: dropping event {envelope.topic}")
            return False
        request = events_pb2.ForwardRequest(envelope=envelope)
        for attempt in range(1, MAX_REQUEUE + 2):
            try:
                self._call(request)
                return True
            except (OSError, TtrpcError) as e:
                log.error(f"forward event {envelope.topic}: {e}")
                self._disconnect()
                if attempt <= MAX_REQUEUE:
                    time.sleep(self.retry_pause * attempt)
        log.error(f"evicting {envelope.topic} from queue because of retry count")
        return False

    def _call(self, request: events_pb2.ForwardRequest) -> None:
        if self._client is not None:
            try:
                return self._send(request)
            except ConnectionClosed:  # containerd restarted since the last event: dial again at once
                self._disconnect()
        self._client = BlockingClient.connect(self.address)
        self._send(request)

    def _send(self, request: events_pb2.ForwardRequest) -> None:
        from google.protobuf import empty_pb2

        assert self._client is not None
        self._client.call(EVENTS_SERVICE, "Forward", request, empty_pb2.Empty, timeout=5.0,
                          metadata={NAMESPACE_KEY: self.namespace})

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
