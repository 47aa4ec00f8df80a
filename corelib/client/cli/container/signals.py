"""Signals received by an attached `run`, `start -a` or `attach` are sent on to the container
(docker's ForwardAllSignals: `POST /containers/{id}/kill?signal=NAME`); three SIGINT/SIGTERM end
whale itself, as docker's forceExitAfter3TerminationSignals does.

_signal and _queue, not signal.py and queue.py: their enums and heapq would cost every `run` start-up
time for seven signal names."""

from __future__ import annotations

import _signal
import contextlib
import os
import threading
from _queue import SimpleQueue
from collections.abc import Callable

FORWARDED = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM")
NAMES = {getattr(_signal, name): name.removeprefix("SIG") for name in FORWARDED}
FORCE_EXIT_AFTER = 3


class SignalForwarder:
    """Installs handlers (main thread only); a worker thread makes the kill requests."""

    def __init__(self, kill: Callable[[str], None], on_force_exit: Callable[[], None] | None = None):
        self.kill = kill
        self.on_force_exit = on_force_exit
        self._queue: SimpleQueue[int | None] = SimpleQueue()
        self._saved: dict[int, object] = {}
        self._terminations = 0

    def __enter__(self) -> SignalForwarder:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in NAMES:
            self._saved[signum] = _signal.signal(signum, self._handle)
        threading.Thread(target=self._worker, name="whale-signals", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            _signal.signal(signum, handler)
        self._saved.clear()
        self._queue.put(None)

    def _handle(self, signum: int, _frame: object) -> None:
        self._queue.put(signum)

    def _worker(self) -> None:
        while (signum := self._queue.get()) is not None:
            if signum in (_signal.SIGINT, _signal.SIGTERM):
                self._terminations += 1
            with contextlib.suppress(Exception):  # docker logs it and goes on
                self.kill(NAMES[signum])
            if self._terminations >= FORCE_EXIT_AFTER:
                if self.on_force_exit is not None:
                    self.on_force_exit()
                os._exit(1)


class ResizeMonitor:
    """MonitorTtySize: resize the container's TTY now and on every SIGWINCH. The first resize may
    come before the daemon has the process's TTY: as docker, it is tried again, 10 times at most,
    10 ms, 20 ms... apart."""

    def __init__(self, resize: Callable[[], None], on_give_up: Callable[[], None] | None = None):
        self.resize = resize
        self.on_give_up = on_give_up
        self._saved = None

    def __enter__(self) -> ResizeMonitor:
        try:
            self.resize()
        except Exception:  # noqa: BLE001 - retried in the background, as docker's initTtySize does
            threading.Thread(target=self._retry_initial, daemon=True).start()
        if threading.current_thread() is threading.main_thread():
            self._saved = _signal.signal(_signal.SIGWINCH, lambda *_: threading.Thread(
                target=self._safe_resize, daemon=True).start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            _signal.signal(_signal.SIGWINCH, self._saved)

    def _retry_initial(self) -> None:
        import time

        for attempt in range(10):
            time.sleep((attempt + 1) * 0.01)
            try:
                self.resize()
                return
            except Exception:  # noqa: BLE001, S112 - tried again, ten times in all
                continue
        if self.on_give_up is not None:
            self.on_give_up()

    def _safe_resize(self) -> None:
        with contextlib.suppress(Exception):  # docker prints nothing either
            self.resize()
