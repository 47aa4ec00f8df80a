"""The `delete` action containerd runs the shim binary with once the shim is gone (the runc shim
manager's Stop): force-delete the container, unmount its rootfs, print a DeleteResponse. It runs
after every normal teardown too, so it must succeed when there is nothing left to clean up.
"""

from __future__ import annotations

import os
import time

from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.shim import log, mount
from corelib.shim.reaper import Reaper
from corelib.shim.runc import RUNC_ROOT, Runc, RuntimeFailure, read_pid_file
from corelib.shim.timestamp import set_timestamp

SIGKILL = 9


def delete(namespace: str, id: str, bundle: str) -> bytes:
    """What is left of a task whose shim is gone: the runc container, the rootfs mount."""
    bundle = bundle or os.path.join(os.path.dirname(os.getcwd()), id)
    binary, root = read_runtime(bundle)
    reaper = Reaper()
    reaper.start()
    runtime = Runc(reaper, binary, os.path.join(root or RUNC_ROOT, namespace), os.path.join(bundle, "log.json"))
    # After a normal teardown the runtime has nothing left for this id: no need to start it to hear so.
    if os.path.exists(os.path.join(runtime.root, id)):
        try:
            runtime.delete(id, force=True)
        except (RuntimeFailure, OSError) as e:
            log.warn(f"failed to remove runc container: {e}")
    try:
        mount.unmount_all(reaper, os.path.join(bundle, "rootfs"))
    except OSError as e:
        log.warn(f"failed to cleanup rootfs mount: {e}")
    remove_dead_socket(bundle)
    try:
        pid = read_pid_file(os.path.join(bundle, "init.pid"))
    except (OSError, ValueError) as e:
        log.warn(f"failed to read init pid file: {e}")
        pid = 0
    response = shim_pb2.DeleteResponse(pid=pid, exit_status=128 + SIGKILL)
    set_timestamp(response.exited_at, time.time_ns())
    return response.SerializeToString()


def read_runtime(bundle: str) -> tuple[str, str]:
    """(runtime binary, runc root) that Create recorded in the bundle; defaults if it never ran."""
    try:
        with open(os.path.join(bundle, "runtime")) as f:
            binary = f.read().strip()
    except FileNotFoundError:
        binary = ""
    try:
        with open(os.path.join(bundle, "options.json")) as f:
            options = f.read()
    except FileNotFoundError:
        return binary, ""
    if '"root"' not in options:  # the usual case, read without loading json (re, enum) for nothing
        return binary, ""
    import json

    try:
        return binary, str(json.loads(options).get("root", ""))
    except (ValueError, AttributeError):
        return binary, ""


def remove_dead_socket(bundle: str) -> None:
    """The socket of a shim that was killed stays behind unless someone removes it."""
    from corelib.shim.manager import can_connect, remove_socket

    try:
        with open(os.path.join(bundle, "address")) as f:
            address = f.read().strip()
    except FileNotFoundError:
        return
    if address.startswith("unix://") and not can_connect(address.removeprefix("unix://")):
        remove_socket(address)
