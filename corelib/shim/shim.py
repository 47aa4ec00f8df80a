"""The long-lived shim server: serves the task service on the socket `start` made (fd 3) until
containerd's Shutdown, reaping every child and forwarding events meanwhile (runtime/v2/shim)."""

from __future__ import annotations

import _signal  # not signal, nor socket below: their enums would cost every shim memory
import _socket
import os
import threading

from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.shim import log
from corelib.shim.events import Publisher
from corelib.shim.reaper import Reaper
from corelib.shim.runc import STANDBYS, default_command
from corelib.shim.service import TaskService
from corelib.ttrpc.blocking import BlockingServer

LISTEN_FD = 3


def serve(namespace: str, id: str, socket_path: str = "", debug: bool = False, reaper: Reaper | None = None) -> int:
    """Serve the task service; `reaper` when one is already running (a standby's server, see manager)."""
    open_log()
    log.configure(debug, runtime="io.containerd.whale.v2", namespace=namespace, id=id)
    for sig in (_signal.SIGINT, _signal.SIGTERM):  # the Go shim ignores these too: only Shutdown ends it
        _signal.signal(sig, _signal.SIG_IGN)
    listener = _socket.socket(fileno=LISTEN_FD) if not socket_path else _listen(socket_path)

    server = BlockingServer(log=log.error)
    ready = reaper is not None
    reaper = reaper or Reaper()
    publisher = Publisher(os.environ.get("TTRPC_ADDRESS", ""), namespace)
    stopping = threading.Event()

    def shutdown() -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    service = TaskService(namespace, publisher, reaper, shutdown)
    if not ready:
        reaper.start()
        reaper.prepare(default_command(), STANDBYS)  # whale-runc's interpreter starts now, for the `create` to come
    server.register_service(shim_pb2.DESCRIPTOR.services_by_name["Task"], service)
    log.debug(f"serving api on socket (pid {os.getpid()})")
    server.serve(listener)
    remove_socket()
    publisher.close()
    return 0


def open_log() -> None:
    """stderr becomes the bundle's `log` fifo containerd reads, never blocking the shim."""
    try:
        fd = os.open("log", os.O_WRONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return  # not started by containerd: keep our stderr
    except OSError:  # no reader (containerd restarting): hold the fifo open ourselves
        fd = os.open("log", os.O_RDWR | os.O_NONBLOCK)
    os.dup2(fd, 2)
    os.close(fd)


def remove_socket() -> None:
    try:
        with open("address") as f:
            address = f.read().strip()
        os.unlink(address.removeprefix("unix://"))
    except OSError:
        pass


def _listen(path: str) -> _socket.socket:
    from corelib.ttrpc.unix import listen

    return listen(path)
