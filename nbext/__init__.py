"""Whalebone in Jupyter: `%load_ext nbext`, then `%container` / `%%container`, live widgets and
DataFrames of per-layer timings.

    %load_ext nbext
    %container run --rm busybox echo hello
    nbext.table(); nbext.timeline(); nbext.event_log()
    nbext.timings()            # one row per span of the last container's traces

`%load_ext nbext` connects to `WHALE_HOST`, else to whaled's default socket; with no daemon there, it
starts an embedded stack (whaled and whale-containerd) for the kernel's lifetime.
Nothing heavy is imported until the extension is loaded or a function is called.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nbext.notebook import Session
    from nbext.widget_events import EventLog
    from nbext.widget_table import ContainerTable
    from nbext.widget_timeline import Timeline

_session: Session | None = None


def load_ipython_extension(ipython: Any) -> None:
    global _session
    from nbext.connect import connect
    from nbext.magics import ContainerMagics

    if _session is None:
        _session = connect()
        atexit.register(_close)  # the kernel's end: stop the pump, and the embedded stack if ours
    ipython.register_magics(ContainerMagics(ipython, _session))
    ipython.push({"nbext": __import__("nbext")}, interactive=False)


def unload_ipython_extension(ipython: Any) -> None:
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("container", None)
    _close()


def _close() -> None:
    global _session
    current, _session = _session, None
    if current is not None:
        atexit.unregister(_close)
        current.close()


def session() -> Session:
    """The notebook's session (after `%load_ext nbext`)."""
    if _session is None:
        raise RuntimeError("nbext is not loaded: run `%load_ext nbext` first")
    return _session


def table() -> ContainerTable:
    """The live container table."""
    return session().table()


def timeline(container: str = "") -> Timeline:
    """The lifecycle timeline: the newest trace as it grows, or every trace of one container."""
    return session().timeline(container)


def event_log() -> EventLog:
    """Docker's and containerd's events, newest first."""
    return session().event_log()


def timings(container: str | None = None, all: bool = False) -> pd.DataFrame:  # noqa: A002 - as the flag
    """One row per span (trace, container, layer, name, start, end, duration_ms...) of the traces that
    touched `container` (default: the last one a magic ran), or of all this session saw."""
    return session().timings(container, all_traces=all)


def events() -> pd.DataFrame:
    """The events seen so far, one row each."""
    return session().events()


def flush(timeout: float = 30.0) -> bool:
    """Wait until every update so far has reached the widgets, and send their whole state again (so
    a notebook saved, or executed by nbclient, keeps what they show)."""
    return session().pump.flush(timeout, resend=True)


_FRAMES = ("spans_frame", "events_frame", "phase_percentiles", "layer_share", "per_run", "self_time_ms")


def __getattr__(name: str) -> Any:
    """The analysis helpers of nbext.frames, imported (with pandas) when first asked for."""
    if name in _FRAMES:
        from nbext import frames

        return getattr(frames, name)
    raise AttributeError(f"module 'nbext' has no attribute {name!r}")
