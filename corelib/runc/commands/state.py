"""`state`: the container's state as runc prints it (indented JSON, no trailing newline)."""

USAGE = "<container-id>"
ARGS = (1, 1)


def run(ctx, opts: dict, args: list[str]) -> int:
    import sys

    from corelib import jsonlite as json
    from corelib.runc.container import Container

    sys.stdout.write(json.dumps(Container.load(ctx.root, args[0]).state_json(), indent=2))
    return 0
