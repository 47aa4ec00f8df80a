"""runc's log output: logrus text (`time="..." level=error msg="..."`) or JSON lines with
`level`, `msg`, `time`, to `--log FILE` or stderr. containerd-shim-runc-v2 reads the last
`"level":"error"` line of the JSON log to learn why a command failed.

Inside a trace (TRACEPARENT in the environment, set by our shim) the JSON log also carries the
lifecycle phases, `{"level":"debug","msg":"phase","phase":..,"start_ns":..,"end_ns":..}`: the
format of corelib/trace/runtime_log.py, which the real shim ignores and ours turns into spans."""

import os
import sys
import time

from corelib import jsonlite as json
from corelib.runc.errors import ignored

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def timestamp() -> str:
    """RFC 3339 in local time, seconds precision, as logrus prints it."""
    now = time.localtime()
    offset = time.strftime("%z", now)
    zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", now) + zone


def _go_json(value: str) -> str:
    # encoding/json escapes <, > and & for HTML safety; logrus' JSON lines show them that way.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def format_line(level: str, msg: str, fmt: str) -> str:
    if fmt == "json":
        return f'{{"level":{json.dumps(level)},"msg":{_go_json(msg)},"time":{json.dumps(timestamp())}}}\n'
    quoted = msg if msg and all(c.isalnum() or c in "-._/@^+" for c in msg) else json.dumps(msg, ensure_ascii=False)
    return f'time="{timestamp()}" level={level} msg={quoted}\n'


class Logger:
    """One log destination for the whole command (and the container init forked from it)."""

    def __init__(self, path: str = "", fmt: str = "text", debug: bool = False):
        self.fmt = fmt
        self.threshold = LEVELS["debug" if debug else "info"]
        self.to_stderr = not path or path == "/dev/stderr"
        self.fd = 2 if self.to_stderr else os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.tracing = fmt == "json" and bool(os.environ.get("TRACEPARENT"))

    def phase(self, name: str, start_ns: int, end_ns: int) -> None:
        """One lifecycle phase, when a trace asks for them (whatever the log level)."""
        if self.tracing:
            line = (f'{{"level":"debug","msg":"phase","phase":{json.dumps(name)},"start_ns":{start_ns},'
                    f'"end_ns":{end_ns},"time":{json.dumps(timestamp())}}}\n')
            with ignored(OSError):
                os.write(self.fd, line.encode())

    def log(self, level: str, msg: str) -> None:
        if LEVELS[level] < self.threshold:
            return
        with ignored(OSError):
            os.write(self.fd, format_line(level, msg, self.fmt).encode())

    def debug(self, msg: str) -> None:
        self.log("debug", msg)

    def info(self, msg: str) -> None:
        self.log("info", msg)

    def warning(self, msg: str) -> None:
        self.log("warning", msg)

    def error(self, msg: str) -> None:
        """Log an error; when the log is a file, say it plainly on stderr too, as runc's fatal() does."""
        self.log("error", msg)
        if not self.to_stderr:
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
