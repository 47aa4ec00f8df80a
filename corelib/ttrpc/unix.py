"""Unix-socket details both edges share: addresses and the SO_PEERCRED same-user check."""

from __future__ import annotations

import _socket  # the constants alone: socket.py would cost the shim memory it must not spend
import os
import sys

from corelib.ttrpc.protocol import Code, TtrpcError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

UNIX_SCHEME = "unix://"


def socket_path(address: str) -> str:
    """"unix:///run/x.sock" or "/run/x.sock" -> "/run/x.sock"."""
    return address[len(UNIX_SCHEME):] if address.startswith(UNIX_SCHEME) else address


def peer_credentials(sock: _socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, as the kernel recorded them at connect()."""
    raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return (int.from_bytes(raw[0:4], sys.byteorder), int.from_bytes(raw[4:8], sys.byteorder),
            int.from_bytes(raw[8:12], sys.byteorder))


def require_same_user(sock: _socket.socket) -> None:
    """ttrpc's UnixSocketRequireSameUser: the peer must have our effective uid and gid."""
    _, uid, gid = peer_credentials(sock)
    if uid != os.geteuid() or gid != os.getegid():
        raise TtrpcError(Code.PERMISSION_DENIED, "ttrpc: invalid credentials: operation not permitted")


def listen(path: str, backlog: int = 128) -> socket.socket:
    """A listening unix socket at `path`, readable by its owner only (as the shims make theirs)."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if not path.startswith("\0"):
            os.chmod(path, 0o600)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock
