"""Go's time formats as the docker CLI prints them."""

from __future__ import annotations


def rfc3339_nano_fixed(time_nano: int) -> str:
    """Go's "2006-01-02T15:04:05.000000000Z07:00" in local time (Z when local time is UTC)."""
    import time

    secs, nanos = divmod(time_nano, 1_000_000_000)
    tm = time.localtime(secs)
    offset = tm.tm_gmtoff or 0
    sign = "+" if offset > 0 else "-"
    zone = "Z" if offset == 0 else f"{sign}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{nanos:09d}{zone}"


def go_time_string(seconds: int) -> str:
    """Go's time.Time.String() of a Unix time: "2006-01-02 15:04:05 -0700 MST"."""
    import time

    tm = time.localtime(seconds)
    offset = tm.tm_gmtoff or 0
    sign = "+" if offset >= 0 else "-"
    return (time.strftime("%Y-%m-%d %H:%M:%S", tm)
            + f" {sign}{abs(offset) // 3600:02d}{abs(offset) % 3600 // 60:02d} {tm.tm_zone}")
