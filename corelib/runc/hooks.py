"""OCI hooks: each runs with the container's state JSON on stdin; a failure or a timeout is the
lifecycle step's error, worded as runc's."""

from __future__ import annotations

import os
import time

from corelib import jsonlite as json
from corelib.runc.errors import RuncError, ignored
from corelib.runc.process import default_signals


def run_hooks(hooks: list[dict], state: dict) -> None:
    payload = json.dumps(state, separators=(",", ":")).encode()
    for i, hook in enumerate(hooks):
        try:
            run_hook(hook, payload)
        except RuncError as e:
            raise RuncError(f"error running hook #{i}: {e}") from None


def run_hook(hook: dict, payload: bytes) -> None:
    """Run one hook (fork/exec, no shell), feed it `payload`, collect its output, honour `timeout`."""
    path = hook["path"]
    argv = hook.get("args") or [path]
    env = dict(e.split("=", 1) for e in hook.get("env") or [] if "=" in e)
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(stdin_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            default_signals()
            os.execve(path, argv, env)
        finally:
            os._exit(127)
    for fd in (stdin_r, out_w, err_w):
        os.close(fd)
    with ignored(BrokenPipeError):
        os.write(stdin_w, payload)
    os.close(stdin_w)
    timeout = hook.get("timeout")
    deadline = time.monotonic() + timeout if timeout else None
    outputs, timed_out = _collect({out_r: b"", err_r: b""}, deadline)
    status = None if timed_out else _wait(pid, deadline)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise RuncError(f"hook ran past specified timeout of {float(timeout):.1f}s")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        what = f"exit status {code}" if code > 0 else f"signal: {-code}"
        if code == 127 and not outputs[err_r] and not os.access(path, os.X_OK):
            what = f"fork/exec {path}: no such file or directory"
        raise RuncError(f"error running hook: {what}, stdout: {outputs[out_r].decode(errors='replace')}, "
                        f"stderr: {outputs[err_r].decode(errors='replace')}")


def _wait(pid: int, deadline: float | None) -> int | None:
    """The wait status, or None when the deadline passed first (or had already passed)."""
    if deadline is None:
        return os.waitpid(pid, 0)[1]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


def _collect(outputs: dict[int, bytes], deadline: float | None) -> tuple[dict[int, bytes], bool]:
    import select

    open_fds = list(outputs)
    while open_fds:
        wait = None if deadline is None else max(deadline - time.monotonic(), 0)
        ready, _, _ = select.select(open_fds, [], [], wait)
        if not ready:
            for fd in open_fds:
                os.close(fd)
            return outputs, True
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                outputs[fd] += chunk
            else:
                os.close(fd)
                open_fds.remove(fd)
    return outputs, False
