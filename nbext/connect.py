"""Where `%load_ext nbext` connects: `WHALE_HOST`; else whaled's default socket when a daemon answers
there; else an embedded stack started for the kernel's lifetime."""

from __future__ import annotations

import os

from corelib.client.api import APIClient
from corelib.client.transport.dial import DaemonUnreachable
from nbext.notebook import Session


def default_host() -> str:
    """whaled's socket: /run/whalebone as root, $XDG_RUNTIME_DIR/whalebone rootless."""
    if os.geteuid() == 0:
        return "unix:///run/whalebone/whaled.sock"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"unix://{runtime_dir}/whalebone/whaled.sock"


def answers(host: str) -> bool:
    client = APIClient(host, timeout=5)
    try:
        client.ping()
        return True
    except (DaemonUnreachable, OSError):
        return False
    finally:
        client.close()


def containerd_sources() -> list:
    """containerd's events too, when `WHALE_CONTAINERD` names its socket (a stack started elsewhere)."""
    address = os.environ.get("WHALE_CONTAINERD")
    if not address:
        return []
    from nbext.containerd_events import ContainerdEvents

    return [ContainerdEvents(address.removeprefix("unix://"))]


def connect() -> Session:
    host = os.environ.get("WHALE_HOST")
    if host:
        if not answers(host):
            raise DaemonUnreachable(host)
        return Session(host, extra_sources=containerd_sources()).start()
    if answers(default_host()):
        return Session(default_host()).start()
    from nbext.stack import EmbeddedStack

    stack = EmbeddedStack().start()
    try:
        return Session(stack.host, stack=stack, extra_sources=stack.sources()).start()
    except BaseException:
        stack.stop()
        raise
