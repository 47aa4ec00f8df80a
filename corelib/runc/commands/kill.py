"""`kill [--all] ID [SIGNAL]`: a signal by number or name (TERM, SIGTERM, term), SIGTERM by default."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = "<container-id> [signal]"
ARGS = (1, 2)
FLAGS = (Flag("all, a", bool, False, "send the specified signal to all processes inside the container"),)


def parse_signal(raw: str) -> int:
    """A number, or a name with or without SIG in any case (Go's unix.SignalNum after runc's ToUpper)."""
    import _signal  # the constants without the `signal` module's enums (start-up time)

    try:
        return int(raw)
    except ValueError:
        pass
    name = raw.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    number = getattr(_signal, name, None) if name.isidentifier() and not name.startswith("SIG_") else None
    if not isinstance(number, int) or name in ("SIGRTMIN", "SIGRTMAX"):
        raise RuncError(f'unknown signal "{raw}"')
    return number


def run(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.container import Container

    container = Container.load(ctx.root, args[0])
    container.signal(parse_signal(args[1] if len(args) > 1 else "SIGTERM"), opts["all"])
    return 0
