"""google.protobuf.Timestamp fields as the Go shim fills them."""

from __future__ import annotations

GO_ZERO_TIME = -62135596800  # time.Time{}: what Go encodes for "not yet"


def set_timestamp(field: object, ns: int | None) -> None:
    """Fill a Timestamp field from time.time_ns(); None is Go's zero time, which the real shim
    encodes too (a timestamp field is never left out)."""
    if ns is None:
        field.seconds, field.nanos = GO_ZERO_TIME, 0  # type: ignore[attr-defined]
    else:
        field.seconds, field.nanos = divmod(ns, 1_000_000_000)  # type: ignore[attr-defined]
