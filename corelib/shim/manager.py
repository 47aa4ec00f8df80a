"""The `start` action containerd runs the shim binary with (the runc shim's manager): make the
socket, start the long-lived server on it (its own process group, child subreaper, none of
containerd's pipes), write <bundle>/address, print the address and return (containerd waits).

The runc shim re-executes its own binary for the server; this one forks it: a second interpreter
and its imports would cost containerd ~50 ms per task, and the shim v2 contract asks only for a
detached server on the socket. So this process imports little (no hashlib: OpenSSL; no socket.py
or subprocess: enum, selectors), since the server keeps all of it.
"""

from __future__ import annotations

import _socket
import contextlib
import os
import sys

from corelib.sha256 import sha256

SOCKET_ROOT = "/run/containerd/s"
LISTEN_FD = 3
SERVER_ARENAS = 2  # what MALLOC_ARENA_MAX would give it: a few threads, each with its own arena else
_standby_server: tuple[int, object] | None = None  # (pid, channel) of a server forked ahead of its task


def socket_address(containerd_address: str, namespace: str, id: str) -> str:
    digest = sha256(os.path.join(containerd_address, namespace, id).encode()).hexdigest()
    return f"unix://{SOCKET_ROOT}/{digest}"


def start(namespace: str, id: str, containerd_address: str, debug: bool) -> str:
    address = socket_address(containerd_address, namespace, id)
    path = address.removeprefix("unix://")
    try:
        sock = new_socket(path)
    except OSError as e:
        if e.errno != 98:  # EADDRINUSE
            raise
        if can_connect(path):  # our shim already serves this task
            write_address(address)
            return address
        os.unlink(path)
        sock = new_socket(path)
    try:
        write_address(address)
        pid = fork_server(sock, namespace, id, containerd_address, debug)
    except BaseException:
        sock.close()
        remove_socket(address)
        raise
    sock.close()
    try:
        apply_start_options(sys.stdin.buffer.read(), pid)
        adjust_oom_score(pid)
    except BaseException:
        os.kill(pid, 9)
        remove_socket(address)
        raise
    return address


def new_socket(path: str) -> _socket.socket:
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def can_connect(path: str) -> bool:
    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        probe.settimeout(0.1)
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def write_address(address: str) -> None:
    """<bundle>/address (cwd is the bundle), atomically: containerd reads it to reconnect."""
    with open(".address", "w") as f:
        f.write(address)
    os.rename(".address", "address")


def remove_socket(address: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address.removeprefix("unix://"))


def fork_server(sock: _socket.socket, namespace: str, id: str, containerd_address: str, debug: bool) -> int:
    """The server's pid; in the child, the server itself, which never returns from here."""
    if _standby_server is not None:
        pid = hand_over(sock, namespace, id, containerd_address, debug)
        if pid:
            return pid
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        detach(sock.fileno())
        os.closerange(LISTEN_FD + 1, os.sysconf("SC_OPEN_MAX"))  # nothing else of `start`'s
        server_title(namespace, id, containerd_address, debug)
        from corelib.shim.shim import serve

        status = serve(namespace, id, debug=debug)
    except BaseException as e:  # noqa: BLE001 - whatever happens, this process must not return to `start`
        with contextlib.suppress(OSError):
            os.write(2, f"shim server: {e!r}\n".encode())
    finally:
        os._exit(status)


def standby() -> None:
    """Started ahead of a task by whale-containerd (corelib/standby.py): fork the server now, with its
    imports done and whale-runc's own standby started for the task's `create`; then wait for the
    order, `start`'s command line, whose fork_server hands that server its socket and task."""
    global _standby_server
    from corelib import standby as orders
    from corelib.shim import leanproto

    leanproto.install()
    import corelib.shim.shim  # noqa: F401 - the server's imports, shared with it by the fork

    order_fd = int(os.environ[orders.ENV])
    ours, theirs = orders.socketpair()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(order_fd)
            ours.close()
            status = serve_when_told(theirs)
        except BaseException as e:  # noqa: BLE001 - this process must never return into `start`
            with contextlib.suppress(OSError):
                os.write(2, f"shim server: {e!r}\n".encode())
        finally:
            os._exit(status)
    theirs.close()
    _standby_server = (pid, ours)
    orders.take_order()  # exits when whale-containerd goes: the server then reads EOF and exits too


def serve_when_told(channel) -> int:
    """The standby's server: detached as a forked server is, its reaper running and a whale-runc standby
    started; then the task (namespace, id, environment, directory) and the listening socket arrive."""
    from corelib import standby as orders
    from corelib.shim.reaper import Reaper
    from corelib.shim.runc import STANDBYS, default_command

    detach()  # none of whale-containerd's pipes either: it reads `start`'s stdout to its end
    os.environ.pop(orders.ENV, None)  # whale-runc's standby may wait as long as this server does
    reaper = Reaper()
    reaper.start()
    reaper.prepare(default_command(), STANDBYS)
    task, fds = orders.receive(channel)
    channel.close()
    if task is None or len(fds) != 1:
        return 0
    orders.settle({LISTEN_FD: fds[0]}, task["cwd"], task["env"])
    server_title(task["namespace"], task["id"], task["address"], task["debug"])
    from corelib.shim.shim import serve

    return serve(task["namespace"], task["id"], debug=task["debug"], reaper=reaper)


def hand_over(sock: _socket.socket, namespace: str, id: str, containerd_address: str, debug: bool) -> int:
    """Give the standby's server its task; its pid, or 0 if it is gone (fork one as usual)."""
    global _standby_server
    from corelib import standby as orders

    pid, channel = _standby_server
    _standby_server = None
    task = {"namespace": namespace, "id": id, "address": containerd_address, "debug": debug,
            "env": dict(os.environ), "cwd": os.getcwd()}
    sent = orders.send(channel, task, (sock.fileno(),))
    channel.close()
    return pid if sent else 0


def detach(listener_fd: int = -1) -> None:
    """A forked server: its own process group, the child subreaper, /dev/null for stdio (stderr becomes
    the bundle's log) and the listening socket as fd 3; without one yet (a standby's server), fd 3 is
    held on /dev/null for it, so that nothing else opened meanwhile is given that number."""
    from corelib.shim import libc

    os.setpgid(0, 0)
    libc.set_child_subreaper()
    libc.set_arena_max(SERVER_ARENAS)
    if listener_fd >= 0 and listener_fd != LISTEN_FD:
        os.dup2(listener_fd, LISTEN_FD)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if listener_fd < 0 and null != LISTEN_FD:
        os.dup2(null, LISTEN_FD)
    if null > LISTEN_FD:
        os.close(null)


def server_title(namespace: str, id: str, containerd_address: str, debug: bool) -> None:
    """The server's command line as `ps` shows it: the command that serves a task on fd 3, as the runc
    shim's re-executed server shows its own (no action), rather than the `start` it was forked from."""
    from corelib.standby import retitle

    retitle(["-m", "corelib.shim.main", "-namespace", namespace, "-id", id, "-address", containerd_address,
             *(["-debug"] if debug else [])])


def apply_start_options(data: bytes, pid: int) -> None:
    """containerd passes the runtime options on stdin; their shim_cgroup is where the server goes."""
    if not data:
        return
    from google.protobuf import any_pb2

    from corelib.api.containerd.runtime.v2.runc.options import oci_pb2

    options = any_pb2.Any.FromString(data)
    if options.type_url.rsplit("/", 1)[-1] != "containerd.runc.v1.Options":
        return
    cgroup = oci_pb2.Options.FromString(options.value).shim_cgroup
    if cgroup:
        join_cgroup(cgroup, pid)


def join_cgroup(cgroup: str, pid: int) -> None:
    """Move the server into `cgroup` in every hierarchy, then what it has started so far (whale-runc's
    standbys), listed once the server is in all of them: the kernel serialises a fork with a move, so a
    child forked before is listed, and one forked after is born there."""
    from corelib.shim import cgroups

    directories = cgroups.directories(cgroup)
    for directory in directories:
        cgroups.add_proc(directory, pid)
    for child in children_of(pid):
        for directory in directories:
            with contextlib.suppress(ProcessLookupError):  # a standby that left meanwhile
                cgroups.add_proc(directory, child)


def children_of(pid: int) -> list[int]:
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{tid}/children") as f:
            found += [int(child) for child in f.read().split()]
    return found


def adjust_oom_score(pid: int) -> None:
    """The shim is killed just before containerd (its score plus one) when memory runs out."""
    with open(f"/proc/{os.getppid()}/oom_score_adj") as f:
        score = int(f.read())
    with open(f"/proc/{pid}/oom_score_adj", "w") as f:
        f.write(str(min(score + 1, 1000)))
