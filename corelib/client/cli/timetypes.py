"""moby's api/types/time GetTimestamp: what --since and --until accept, as the daemon wants it."""

from __future__ import annotations

import re
import time

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def get_timestamp(value: str, now: float | None = None) -> str | None:
    """Unix seconds (`1700000000`, `1700000000.5`) pass as they are; a Go duration (`42m`, `1h30m`) is
    that long before now; an RFC 3339 date or time (local when it has no zone) becomes Unix seconds."""
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    if re.fullmatch(rf"(?:{_DURATION.pattern})+", value):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(value))
        return f"{(now if now is not None else time.time()) - seconds:.9f}"
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f'parsing time "{value}": invalid time format') from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return f"{moment.timestamp():.9f}"
