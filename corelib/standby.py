"""Standby processes: a command's interpreter started ahead of time, its command line given later.

A Python binary pays ~20-30 ms of interpreter start-up and imports before it runs a line; a shim runs
whale-runc three times for one short container, each on the container's critical path. So the
spawner may start the binary early, as `BINARY standby` (and blank room) with `WHALE_STANDBY_FD=3` in its
environment and a unix seqpacket socket as fd 3. The standby imports what its commands need, then waits
for one order: its argv, environment and working directory (JSON) with its stdin, stdout and stderr
(SCM_RIGHTS). It takes them on and runs as if exec'd with them, `ps` showing the order's command line.
It is still one process per command, the spawner's child, reaped for its exit status like any other;
only when its interpreter started differs.

The standby acknowledges the order before it acts on it, and the spawner counts the command as started
only on that acknowledgement: a standby that is gone, or a binary that never was one (a wrapper that
ignores WHALE_STANDBY_FD and exits), answers EOF instead, and the spawner starts the binary the usual
way. Neither side can be left believing the other: whoever gives up first shuts its socket for
reading, then looks once more for what may already be queued (the other side's send fails from then
on). No order within IDLE_TIMEOUT, or the spawner gone: the standby exits without a word. Standard
library only, without socket.py: whale-runc imports this."""

import os

ENV = "WHALE_STANDBY_FD"
IDLE_ENV = "WHALE_STANDBY_IDLE"  # seconds a standby waits for its order; 0: as long as its spawner lives
DISABLE_ENV = "WHALE_STANDBY"  # "0": never start standbys (to time or watch the plain exec path)
IDLE_TIMEOUT = 3.0  # a short container's next command comes within ~100 ms; a long one's much later
ACK_TIMEOUT = 10.0  # how long a spawner waits for a standby still starting to take its order
_ACK = b"taken"
_MAX_ORDER = 1 << 20
TITLE_ROOM = 1024  # blank bytes of command line a standby starts with, for the one it is given to show in


def spawn_argv(binary: str) -> list[str]:
    """A standby's own command line: `binary standby`, with room for its order's to be written over it."""
    return [binary, "standby", " " * TITLE_ROOM]


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1") != "0"


def socketpair():
    """(the spawner's end, the standby's end), both close-on-exec."""
    import _socket

    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0)


def send(sock, message: dict, fds: tuple[int, ...] = ()) -> bool:
    """One JSON message, with descriptors, over a seqpacket socket; False if the peer is gone."""
    import _socket
    import sys

    from corelib import jsonlite as json

    data = json.dumps(message).encode()
    rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
    try:
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)] if rights else [])
    except OSError:
        return False
    return True


def receive(sock) -> tuple[dict | None, list[int]]:
    """The next message and its descriptors; (None, []) at EOF (or with nothing queued, non-blocking)."""
    import _socket
    import sys

    from corelib import jsonlite as json

    try:
        data, ancillary, _, _ = sock.recvmsg(_MAX_ORDER, _socket.CMSG_SPACE(8 * 4))
    except OSError:
        return None, []
    fds = [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
           for level, kind, payload in ancillary if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
           for i in range(0, len(payload) - 3, 4)]
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), fds


def give(sock, argv: list[str], env: dict[str, str], cwd: str, stdio: tuple[int, int, int] | None = None,
         timeout: float = ACK_TIMEOUT) -> bool:
    """Send one order to a standby and wait for it to be taken; False if it was not (the standby is gone,
    or never was one), so the caller execs as usual. Without `stdio`, the standby keeps the stdin,
    stdout and stderr it was started with."""
    try:
        return send(sock, {"argv": argv, "env": env, "cwd": cwd}, stdio or ()) and _answer(sock, timeout) == _ACK
    finally:
        sock.close()


def _send_ack(sock) -> bool:
    try:
        sock.send(_ACK)
    except OSError:  # the spawner gave up waiting, and starts the binary itself
        return False
    return True


def _answer(sock, timeout: float) -> bytes:
    _wait_or_give_up(sock, timeout)
    try:
        return sock.recv(16)
    except OSError:
        return b""


def _wait_or_give_up(sock, timeout: float) -> None:
    """Wait for something to read (0: however long); past `timeout`, shut reading and turn non-blocking,
    so what was queued before can still be read and nothing more can be sent to us."""
    import _socket
    import select

    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    if not poller.poll(int(timeout * 1000) if timeout > 0 else -1):
        sock.shutdown(_socket.SHUT_RD)
        sock.setblocking(False)


def take_order(fd: int | None = None, idle_timeout: float | None = None) -> None:
    """In the standby: wait for the order and become that command (argv, environment, directory,
    stdio), or exit. Returns with sys.argv set. By default the socket's fd and the idle timeout come
    from the environment the standby was started with."""
    import _socket
    import sys

    if fd is None:
        fd = int(os.environ.pop(ENV))
    if idle_timeout is None:
        idle_timeout = float(os.environ.pop(IDLE_ENV, IDLE_TIMEOUT))
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, fd)
    _wait_or_give_up(sock, idle_timeout)
    order, fds = receive(sock)
    taken = order is not None and len(fds) in (0, 3) and _send_ack(sock)
    sock.close()
    if not taken:
        os._exit(0)
    settle(dict(enumerate(fds)), order["cwd"], order["env"])
    sys.argv = order["argv"]
    retitle(sys.argv)


def settle(fds: dict[int, int], cwd: str, env: dict[str, str]) -> None:
    """Take on what an order brings: each received descriptor at its number ({number: received}), the
    working directory and the environment."""
    for target, received in fds.items():
        os.dup2(received, target)
    for received in set(fds.values()) - set(fds):
        os.close(received)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)


def retitle(args: list[str]) -> None:
    """The command line `ps` shows: the interpreter, then `args`, written over the process's own
    arguments in place (/proc/self/mem), so only when it fits; cosmetic, so a kernel that refuses it
    costs nothing but the title."""
    import sys

    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        arg_start, arg_end = int(fields[45]), int(fields[46])  # fields 48 and 49 of proc(5)
        interpreter = os.fsencode(sys.orig_argv[0])  # the first word of /proc/self/cmdline, as it was exec'd
        title = b"\0".join([interpreter, *(a.encode() for a in args)]) + b"\0"
        if len(title) > arg_end - arg_start:
            return
        fd = os.open("/proc/self/mem", os.O_WRONLY)
        try:
            os.pwrite(fd, title.ljust(arg_end - arg_start, b"\0"), arg_start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return
