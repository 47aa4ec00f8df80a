"""The daemon's streams the pump reads: `/events` (with a snapshot of the containers at every
(re)connect) and `/spans`. A lost stream is said in the widgets' note and connected again."""

from __future__ import annotations

from collections.abc import Callable

from corelib.client.api import APIClient
from corelib.client.errors import APIError
from corelib.client.transport.http import Response
from corelib.trace.span import Span
from nbext.pump import EventPump, Source

RECONNECT_SECONDS = 1.0
INSPECT_AT_MOST = 50  # running containers whose start time the snapshot asks for
NO_SPANS = ("This daemon does not serve spans (GET /spans answered {status}, as the real dockerd does): "
            "the timeline shows the client's own spans only.")


class _DaemonStream(Source):
    def __init__(self, client_factory: Callable[[], APIClient]):
        super().__init__()
        self.client_factory = client_factory
        self._response: Response | None = None

    def stop(self) -> None:
        super().stop()
        response = self._response
        if response is not None:
            response.shutdown()

    def run(self, pump: EventPump) -> None:
        while not self.stopping:
            client = self.client_factory()
            try:
                if self.follow(client, pump) is False:
                    return
            except Exception as e:  # noqa: BLE001 - any loss of the stream: say so, then connect again
                if self.stopping:
                    return
                pump.post_note(self.name, f"lost the daemon's {self.name} stream ({e}); reconnecting")
            finally:
                self._response = None
                client.close()
            self._stopping.wait(RECONNECT_SECONDS)

    def open(self, response: Response) -> Response:
        self._response = response
        if self.stopping:  # stop() came while connecting
            response.shutdown()
        return response

    def follow(self, client: APIClient, pump: EventPump) -> bool | None:
        raise NotImplementedError


class DockerEvents(_DaemonStream):
    name = "events"

    def __init__(self, client_factory: Callable[[], APIClient]):
        super().__init__(client_factory)
        self.since: str | None = None

    def follow(self, client: APIClient, pump: EventPump) -> None:
        # Subscribe first, then list: what happens in between comes as events, and applying it twice
        # changes nothing.
        response = self.open(client.events(since=self.since))
        snapshot(client, pump)
        pump.post_note(self.name, None)
        for event in response.iter_json():
            pump.post_event(event)
            if event.get("timeNano"):
                self.since = f"{event['timeNano'] // 1_000_000_000}.{event['timeNano'] % 1_000_000_000:09d}"


def snapshot(client: APIClient, pump: EventPump) -> None:
    listed = client.containers(all=True)
    pump.post_listed(listed)
    for item in [c for c in listed if c.get("State") == "running"][:INSPECT_AT_MOST]:
        try:
            pump.post_inspected(client.inspect_container(item["Id"]))
        except APIError:
            continue  # gone since it was listed


class DaemonSpans(_DaemonStream):
    name = "spans"

    def follow(self, client: APIClient, pump: EventPump) -> bool | None:
        try:
            response = self.open(client.call("GET", "/spans"))
        except APIError as e:
            if e.status_code in (400, 404, 405, 501):
                pump.post_note(self.name, NO_SPANS.format(status=e.status_code))
                return False
            raise
        pump.post_note(self.name, None)
        for data in response.iter_json():
            pump.post_span(Span.from_dict(data))
        return None
