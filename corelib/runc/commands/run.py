"""`run`: create, start, wait (signals passed on), delete; exits with the container's status."""

from corelib.runc.cli import Flag
from corelib.runc.commands.create import FLAGS as CREATE_FLAGS
from corelib.runc.commands.create import options
from corelib.runc.errors import RuncError

USAGE = "<container-id>"
ARGS = (1, 1)
FLAGS = (*CREATE_FLAGS, Flag("detach, d", bool, False, "detach from the container's process"))


def run(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.cgroups import warm_up_migrations

    warm_up_migrations()
    from corelib.runc import linux
    from corelib.runc.commands.start import start
    from corelib.runc.launch import create_container

    if not opts["detach"]:
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)  # the init is our grandchild: it must come back to us
    try:
        container, console_sock = create_container(ctx, args[0], options(opts, detach=opts["detach"]))
    except RuncError as e:
        raise RuncError(f"runc run failed: {e}") from None
    try:
        master = receive_master(console_sock)
        start(container)
    except BaseException:
        from corelib.runc.commands.delete import kill_and_destroy

        kill_and_destroy(container, ctx.logger)
        raise
    if opts["detach"]:
        return 0
    return wait_and_delete(container, master, ctx)


def receive_master(sock) -> int | None:
    if sock is None:
        return None
    from corelib.runc import console

    try:
        return console.receive_master(sock)
    finally:
        sock.close()


def wait_and_delete(container, master: int | None, ctx) -> int:
    from corelib.runc.process import forward_and_wait

    if master is not None:
        import threading

        from corelib.runc import console
        from corelib.runc.container import proc_stat

        pump = threading.Thread(target=console.pump, args=(master, lambda: proc_stat(container.pid) is not None),
                                daemon=True)
        pump.start()
    status = forward_and_wait(container.pid)
    if master is not None:
        pump.join(timeout=2)
    container.destroy(ctx.logger)
    return status
