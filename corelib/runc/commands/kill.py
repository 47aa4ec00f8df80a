"""`kill [--all] ID [SIGNAL]`: a signal by number or name (TERM, SIGTERM, term), SIGTERM by default."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = "<container-id> [signal]"
ARGS = (1, 2)
FLAGS = (Flag("all, a", bool, False, "send the specified signal to all processes inside the container"),)


def parse_signal(raw: str) -> int:
    import signal

    try:
        return int(raw)
    except ValueError:
        pass
    name = raw.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    number = getattr(signal.Signals, name, None) if name.isidentifier() else None
    if number is None:
        raise RuncError(f'unknown signal "{raw}"')
    return int(number)


def run(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.container import Container

    container = Container.load(ctx.root, args[0])
    container.signal(parse_signal(args[1] if len(args) > 1 else "SIGTERM"), opts["all"])
    return 0
