"""The `start` action containerd runs the shim binary with (the runc shim's manager): make the
socket, start the long-lived server on it (a new process group, child subreaper, nothing of
containerd's pipes), write <bundle>/address, print the address and return (containerd waits).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys

from corelib.api.containerd.runtime.v2.runc.options import oci_pb2

SOCKET_ROOT = "/run/containerd/s"
PR_SET_CHILD_SUBREAPER = 36
# The server runs without site (-S): its imports are found on the paths `start` passes it.
BOOTSTRAP = ("import sys; sys.path[:0] = sys.argv.pop(1).split(':'); "
             "from corelib.shim.main import main; sys.exit(main())")


def socket_address(containerd_address: str, namespace: str, id: str) -> str:
    digest = hashlib.sha256(os.path.join(containerd_address, namespace, id).encode()).hexdigest()
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
        server = spawn_server(sock, namespace, id, containerd_address, debug)
    except BaseException:
        sock.close()
        remove_socket(address)
        raise
    sock.close()
    try:
        apply_start_options(sys.stdin.buffer.read(), server.pid)
        adjust_oom_score(server.pid)
    except BaseException:
        server.kill()
        remove_socket(address)
        raise
    return address


def new_socket(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def can_connect(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.1)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def write_address(address: str) -> None:
    """<bundle>/address (cwd is the bundle), atomically: containerd reads it to reconnect."""
    with open(".address", "w") as f:
        f.write(address)
    os.rename(".address", "address")


def remove_socket(address: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address.removeprefix("unix://"))


def import_paths() -> str:
    """Where this process found corelib and protobuf, for a server started without site."""
    import corelib

    paths = [os.path.dirname(os.path.dirname(os.path.abspath(corelib.__file__)))]
    paths += [p for p in sys.path if os.path.isdir(os.path.join(p, "google", "protobuf"))][:1]
    return ":".join(dict.fromkeys(paths))


def spawn_server(sock: socket.socket, namespace: str, id: str, containerd_address: str,
                 debug: bool) -> subprocess.Popen[bytes]:
    """The server, with the listening socket as fd 3, in its own process group, as a subreaper."""
    if sock.fileno() != 3:
        os.dup2(sock.fileno(), 3)
    argv = [sys.executable, "-I", "-S", "-c", BOOTSTRAP, import_paths(),
            "-namespace", namespace, "-id", id, "-address", containerd_address]
    if debug:
        argv.append("-debug")
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            pass_fds=(3,), process_group=0, env=env, preexec_fn=become_subreaper)


def become_subreaper() -> None:
    """Runs in the server between fork and exec; the attribute survives exec."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def apply_start_options(data: bytes, pid: int) -> None:
    """containerd passes the runtime options on stdin; their shim_cgroup is where the server goes."""
    if not data:
        return
    from google.protobuf import any_pb2

    options = any_pb2.Any.FromString(data)
    if options.type_url.rsplit("/", 1)[-1] != "containerd.runc.v1.Options":
        return
    cgroup = oci_pb2.Options.FromString(options.value).shim_cgroup
    if cgroup:
        join_cgroup(cgroup, pid)


def join_cgroup(cgroup: str, pid: int) -> None:
    from corelib.shim import cgroups

    if cgroups.unified():
        targets = [os.path.join(cgroups.CGROUP_ROOT, cgroup.lstrip("/"))]
    else:
        targets = [os.path.join(point, cgroup.lstrip("/")) for point, _ in set(cgroups.v1_mounts().values())]
    for target in targets:
        if os.path.isdir(target):
            with open(os.path.join(target, "cgroup.procs"), "w") as f:
                f.write(str(pid))


def adjust_oom_score(pid: int) -> None:
    """The shim is killed just before containerd (its score plus one) when memory runs out."""
    with open(f"/proc/{os.getppid()}/oom_score_adj") as f:
        score = int(f.read())
    with open(f"/proc/{pid}/oom_score_adj", "w") as f:
        f.write(str(min(score + 1, 1000)))
