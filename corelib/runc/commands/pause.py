"""`pause`: freeze every process of the container (freezer cgroup, or cgroup.freeze on v2)."""

USAGE = "<container-id>"
ARGS = (1, 1)


def run(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.container import CREATED, RUNNING, Container
    from corelib.runc.errors import NOT_RUNNING, RuncError

    if ctx.rootless_cgroups:
        ctx.logger.warning("runc pause may fail if you don't have the full access to cgroups")
    container = Container.load(ctx.root, args[0])
    if container.status() not in (RUNNING, CREATED):
        raise RuncError(NOT_RUNNING)
    container.cgroups.freeze(True)
    return 0
