"""Errors worded as runc words them: what goes to the log and stderr is `str(error)`."""

import os


class RuncError(Exception):
    """A failure to report as-is; `code` is the process exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class UsageError(RuncError):
    """Wrong flags or arguments: runc prints `Incorrect Usage` and the command's help."""


NOT_EXIST = "container does not exist"
NOT_RUNNING = "container not running"
NOT_PAUSED = "container not paused"
ALREADY_EXISTS = "container with given ID already exists"


def strerror(errno: int) -> str:
    """Go's wording of an errno: the C text, lower-cased at the start ("no such file or directory")."""
    text = os.strerror(errno)
    return text[:1].lower() + text[1:]


def describe(exc: BaseException) -> str:
    """An exception as Go would print it: `op path: reason` for OS errors."""
    if isinstance(exc, OSError) and exc.errno:
        reason = strerror(exc.errno)
        if exc.filename is not None:
            op = getattr(exc, "op", None)
            return f"{op + ' ' if op else ''}{os.fsdecode(exc.filename)}: {reason}"
        return exc.strerror if exc.strerror and ":" in exc.strerror else reason
    return str(exc)



class ignored:
    """contextlib.suppress, without importing contextlib (and functools, collections) at start-up."""

    def __init__(self, *exceptions: type[BaseException]):
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, traceback) -> bool:
        return kind is not None and issubclass(kind, self.exceptions)
