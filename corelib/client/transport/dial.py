"""Daemon addresses (`unix:///path`, `tcp://host:port`, `fd://`) and connecting to them.

Sockets are _socket's: socket.py (enum, selectors, array) would cost every command milliseconds of
start-up, for wrappers the HTTP transport does not use."""

from __future__ import annotations

import _socket

DEFAULT_HOST = "unix:///run/whalebone/whaled.sock"
DEFAULT_TCP_PORT = 2375


class DaemonUnreachable(ConnectionError):
    """The daemon's socket refused us or is not there: Docker's wording, our address."""

    def __init__(self, host: str, cause: BaseException | None = None):
        super().__init__(f"Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")
        self.host = host
        self.cause = cause


def parse_host(host: str) -> tuple[str, str | tuple[str, int]]:
    """docker's opts.ParseHost: `unix:///p` (`unix://` alone is the default socket), `tcp://h[:p]`, and
    a bare `h[:p]` counts as tcp, as in docker."""
    host = host.strip()
    if host.startswith("unix://"):
        return "unix", host[len("unix://"):] or DEFAULT_HOST[len("unix://"):]
    if "://" not in host:
        host = "tcp://" + host
    if host.startswith(("tcp://", "http://")):
        rest = host.split("://", 1)[1].rstrip("/")
        if rest.startswith("["):
            name, _, port = rest[1:].partition("]")
            port = port.removeprefix(":")
        else:
            name, _, port = rest.partition(":")
        try:
            number = int(port) if port else DEFAULT_TCP_PORT
        except ValueError:
            raise ValueError(f"invalid bind address format: {host}") from None
        return "tcp", (name or "localhost", number)
    raise ValueError(f"invalid bind address format: {host}")


def connect(host: str, timeout: float | None = None) -> _socket.socket:
    """A connected socket to the daemon at `host` (blocking; `timeout` bounds the connect only)."""
    kind, address = parse_host(host)
    family = _socket.AF_UNIX if kind == "unix" else _socket.AF_INET
    if kind == "tcp" and ":" in address[0]:  # type: ignore[index]
        family = _socket.AF_INET6
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.settimeout(None)
    except OSError as e:
        sock.close()
        raise DaemonUnreachable(host, e) from e
    if kind == "tcp":
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    return sock
