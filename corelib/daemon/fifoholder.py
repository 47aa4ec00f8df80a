"""The fifo holder: a small process of whaled's that holds a read end of every running container's
output fifos, so that what a container writes while whaled is down (killed, restarting) stays in
the pipe instead of being thrown away when the shim closes its ends; restarted, whaled reads it.

It lives in its own session (a crash of whaled does not take it along) and speaks a tiny
protocol on a unix seqpacket socket: `hold <key>` with file descriptors attached (SCM_RIGHTS),
`release <key>`, `exit`. Standard library only.
"""

from __future__ import annotations

import array
import contextlib
import os
import selectors
import socket
import subprocess
import sys
import time

MAX_FDS = 8


def serve(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(8)
    held: dict[str, list[int]] = {}
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                selector.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            if not _handle(conn, held):
                selector.unregister(conn)
                conn.close()


def _handle(conn: socket.socket, held: dict[str, list[int]]) -> bool:
    fds = array.array("i")
    try:
        data, ancillary, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
    except OSError:
        return False
    if not data:
        return False
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    verb, _, name = data.decode().partition(" ")
    if verb == "exit":
        sys.exit(0)
    for fd in held.pop(name, []):
        os.close(fd)
    if verb == "hold":
        held[name] = list(fds)
    else:
        for fd in fds:
            os.close(fd)
    return True


class FifoHolder:
    """whaled's side: starts the holder (or finds the one a previous whaled left) and talks to it."""

    def __init__(self, path: str):
        self.path = path
        self.sock: socket.socket | None = None

    def connect(self, timeout: float = 10) -> None:
        if self._try_connect():
            return
        subprocess.Popen([sys.executable, "-m", "corelib.daemon.fifoholder", self.path], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._try_connect():
                return
            time.sleep(0.01)
        raise RuntimeError(f"the fifo holder did not come up at {self.path}")

    def _try_connect(self) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            return False
        self.sock = sock
        return True

    def _send(self, message: str, fds: list[int] | None = None) -> None:
        if self.sock is None:
            return
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        with contextlib.suppress(OSError):
            self.sock.sendmsg([message.encode()], ancillary)

    def hold(self, key: str, fds: list[int]) -> None:
        self._send(f"hold {key}", fds)

    def release(self, key: str) -> None:
        self._send(f"release {key}")

    def close(self, stop: bool) -> None:
        if stop:
            self._send("exit")
        if self.sock is not None:
            self.sock.close()
            self.sock = None


if __name__ == "__main__":
    serve(sys.argv[1])
