"""Standby processes: a command's interpreter started ahead of time, its command line given later.

A Python binary pays ~20-30 ms of interpreter start-up and imports before it runs a line; a shim runs
whale-runc three times for one short container, each on the container's critical path. So the
spawner may start the binary early, as `argv[0]` with `WHALE_STANDBY_FD=3` in its environment and a
unix seqpacket socket as fd 3. The standby imports what its commands need, then waits for one order:
its argv, environment and working directory (JSON) with its stdin, stdout and stderr (SCM_RIGHTS).
It takes them on and runs as if exec'd with them. It is still one process per command, the spawner's
child, reaped for its exit status like any other; only when its interpreter started differs.

No order within IDLE_TIMEOUT, or the spawner gone (EOF): the standby exits without a word. An order
sent is never lost to that timeout: the standby shuts its socket for reading before it gives up, so
a late order either is already queued (and is run) or fails to send (EPIPE) and the spawner starts
the binary the usual way. Standard library only, without socket.py: whale-runc imports this."""

import os

ENV = "WHALE_STANDBY_FD"
DISABLE_ENV = "WHALE_STANDBY"  # "0": never start standbys (to time or watch the plain exec path)
IDLE_TIMEOUT = 10.0
_MAX_ORDER = 1 << 20


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1") != "0"


def socketpair():
    """(the spawner's end, the standby's end), both close-on-exec."""
    import _socket

    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0)


def give(sock, argv: list[str], env: dict[str, str], cwd: str, stdio: tuple[int, int, int]) -> bool:
    """Send one order to a standby; False if it is gone (or going), so the caller execs as usual."""
    import _socket
    import sys

    from corelib import jsonlite as json

    order = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
    fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in stdio)
    try:
        sock.sendmsg([order], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    except OSError:
        return False
    finally:
        sock.close()
    return True


def take_order(fd: int, idle_timeout: float = IDLE_TIMEOUT) -> None:
    """In the standby: wait for the order and become that command (argv, environment, directory,
    stdio), or exit. Returns with sys.argv set."""
    import _socket
    import select
    import sys

    from corelib import jsonlite as json

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, fd)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if not poller.poll(int(idle_timeout * 1000)):
        sock.shutdown(_socket.SHUT_RD)
        sock.setblocking(False)
    try:
        data, ancillary, _, _ = sock.recvmsg(_MAX_ORDER, _socket.CMSG_SPACE(3 * 4))
    except OSError:
        data, ancillary = b"", []
    sock.close()
    fds = [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
           for level, kind, payload in ancillary if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
           for i in range(0, len(payload) - 3, 4)]
    if not data or len(fds) != 3:
        os._exit(0)
    order = json.loads(data)
    for target, received in enumerate(fds):
        os.dup2(received, target)
    for received in fds:
        if received > 2:
            os.close(received)
    os.chdir(order["cwd"])
    os.environ.clear()
    os.environ.update(order["env"])
    sys.argv = order["argv"]

