"""Lifecycle spans and their propagation across processes (W3C traceparent). Standard library only.

Import from the submodules (`corelib.trace.span`, `corelib.trace.context`, ...): this package imports
nothing itself, so whale-runc's hot path pays only for what it uses.
"""
