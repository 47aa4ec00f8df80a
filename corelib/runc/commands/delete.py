"""`delete [--force]`: remove a stopped (or created) container's cgroups and state, poststop hooks after."""


from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError, ignored

USAGE = "<container-id>"
ARGS = (1, 1)
FLAGS = (Flag("force, f", bool, False, "Forcibly deletes the container if it is still running (uses SIGKILL)"),)


def run(ctx, opts: dict, args: list[str]) -> int:
    import os

    from corelib.runc.container import CREATED, STOPPED, Container, remove_all, validate_id
    from corelib.runc.errors import NOT_EXIST

    container_id = args[0]
    try:
        container = Container.load(ctx.root, container_id)
    except RuncError as e:
        if str(e) == NOT_EXIST:
            # an aborted create may have left the directory without its state.json
            validate_id(container_id)
            remove_all(os.path.join(ctx.root, container_id))
            if opts["force"]:
                return 0
        raise
    status = container.status()
    if status == STOPPED:
        container.destroy(ctx.logger)
    elif status == CREATED or opts["force"]:
        kill_and_destroy(container, ctx.logger)
    else:
        raise RuncError(f"cannot delete container {container_id} that is not stopped: {status}")
    return 0


def kill_and_destroy(container, logger) -> None:
    import time

    from corelib.runc.container import STOPPED

    with ignored(RuncError):
        container.signal(9)
    deadline = time.monotonic() + 10
    delay = 0.001
    while container.run_type() != STOPPED:
        if time.monotonic() > deadline:
            raise RuncError("container init still running")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    container.destroy(logger)
