"""`resume`: thaw a paused container."""

USAGE = "<container-id>"
ARGS = (1, 1)


def run(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.container import PAUSED, Container
    from corelib.runc.errors import NOT_PAUSED, RuncError

    if ctx.rootless_cgroups:
        ctx.logger.warning("runc resume may fail if you don't have the full access to cgroups")
    container = Container.load(ctx.root, args[0])
    if container.status() != PAUSED:
        raise RuncError(NOT_PAUSED)
    container.cgroups.freeze(False)
    return 0
