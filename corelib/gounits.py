"""docker/go-units: human sizes and durations, and sizes parsed from flags (`-m 512m`), for the CLI
and the daemon alike (`docker ps`'s "Up 3 hours" is the daemon's)."""

from __future__ import annotations

import re

DECIMAL_ABBRS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
BINARY_MAP = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
SIZE_PATTERN = r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$"  # compiled when a size is given, not at import


def go_g(value: float, precision: int) -> str:
    """Go's %.<precision>g (Python's is the same but for the exponent's sign digits, which match)."""
    return f"{value:.{precision}g}"


BINARY_ABBRS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]


def custom_size(size: float, base: float, abbrs: list[str], precision: int) -> str:
    """units.CustomSize: the size in the largest unit it reaches, `precision` significant digits."""
    i = 0
    while size >= base and i < len(abbrs) - 1:
        size /= base
        i += 1
    return f"{go_g(size, precision)}{abbrs[i]}"


def human_size_with_precision(size: float, precision: int) -> str:
    return custom_size(size, 1000.0, DECIMAL_ABBRS, precision)


def bytes_size(size: float) -> str:
    """units.BytesSize: binary units (KiB, MiB...), four significant digits."""
    return custom_size(size, 1024.0, BINARY_ABBRS, 4)


def human_size(size: float) -> str:
    return human_size_with_precision(size, 4)


def human_duration(seconds: float) -> str:
    """units.HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks"..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)  # Go's int(d.Hours() + 0.5), not Python's half-to-even round
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def ram_in_bytes(text: str) -> int:
    """units.RAMInBytes: `512m`, `1.5g`, `1024` (binary multiples)."""
    m = re.match(SIZE_PATTERN, text)
    if m is None:
        raise ValueError(f"invalid size: '{text}'")
    size = float(m.group(1))
    unit = (m.group(3) or "").lower()
    return int(size * BINARY_MAP.get(unit, 1))
