"""`start`: open exec.fifo for reading, which lets the blocked init execve the user's process."""

from corelib.runc.errors import RuncError

USAGE = "<container-id>"
ARGS = (1, 1)


def run(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.container import CREATED, RUNNING, STOPPED, Container

    container = Container.load(ctx.root, args[0])
    status = container.status()
    if status == CREATED:
        import time

        started_ns = time.time_ns()
        start(container)
        ctx.logger.phase("start", started_ns, time.time_ns())
        return 0
    if status == STOPPED:
        raise RuncError("cannot start a container that has stopped")
    if status == RUNNING:
        raise RuncError("cannot start an already running container")
    raise RuncError(f"cannot start a container in the {status} state")


def start(container) -> None:
    """Read the init's byte from exec.fifo (non-blocking, watching that the init is still alive),
    remove the fifo, then run the poststart hooks (a failing one kills the container)."""
    import os
    import time

    from corelib.runc.container import EXEC_FIFO, STOPPED

    path = os.path.join(container.dir, EXEC_FIFO)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        data = b""
        delay = 0.0002
        while True:
            data = _read_ready(fd)  # b"" until the init has the fifo open and has written
            if data:
                break
            if container.run_type() == STOPPED:
                # It may have written its byte, exec'd and exited (/bin/true is quick) since our read.
                data = _read_ready(fd)
                if data:
                    break
                raise RuncError("container process is already dead")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
    finally:
        os.close(fd)
    os.unlink(path)
    hooks = (container.config.get("hooks") or {}).get("poststart")
    if hooks:
        from corelib.runc.hooks import run_hooks

        try:
            run_hooks(hooks, container.oci_state())
        except RuncError:
            container.signal(9)
            raise


def _read_ready(fd: int) -> bytes:
    import os

    try:
        return os.read(fd, 16)
    except BlockingIOError:
        return b""
