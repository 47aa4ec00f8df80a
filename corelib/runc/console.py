"""Terminals: the container's pty is made inside it (its own devpts), the master end goes to whoever
listens on `--console-socket` with SCM_RIGHTS, the slave becomes the process's stdio and controlling
terminal. Without a console socket (`run`/`exec` in the foreground) whale-runc keeps the master and
copies between it and its own stdio, as runc's tty.go does."""

from __future__ import annotations

import os
import socket

from corelib.runc.errors import RuncError, ignored, strerror

TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413


def connect(path: str) -> socket.socket:

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise RuncError(f"dial unix {path}: connect: {strerror(e.errno or 0)}") from None
    return sock


def setup(sock: socket.socket, size: dict | None, mount_console: bool) -> None:
    """In the container (after pivot_root): new pty, master sent away, slave as fds 0-2."""
    import fcntl
    import struct

    master, slave = os.openpty()
    os.set_inheritable(master, False)
    path = os.ttyname(slave)
    if size and size.get("height") and size.get("width"):
        fcntl.ioctl(master, TIOCSWINSZ, struct.pack("HHHH", size["height"], size["width"], 0, 0))
    if mount_console:
        from corelib.runc import linux

        if not os.path.exists("/dev/console"):
            os.close(os.open("/dev/console", os.O_CREAT | os.O_CLOEXEC, 0o600))
        linux.mount(path, "/dev/console", "bind", linux.MS_BIND)
    socket.send_fds(sock, [b"/dev/ptmx"], [master])
    os.close(master)
    sock.close()
    for fd in range(3):
        os.dup2(slave, fd)
    os.close(slave)


def set_controlling_tty() -> None:
    import fcntl

    fcntl.ioctl(0, TIOCSCTTY, 0)


def receive_master(sock: socket.socket) -> int:
    _, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise OSError("no pty master received on the console socket")
    return fds[0]


def pump(master: int, child_alive) -> None:
    """Copy our stdin to the pty and the pty to our stdout until the pty closes and the child is gone."""
    import select
    import termios
    import tty

    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0, termios.TCSANOW)  # not TCSAFLUSH: keep what was typed before the container started
        _copy_winsize(0, master)
    try:
        sources = [master, 0]
        while master in sources:
            ready, _, _ = select.select(sources, [], [], 0.2)
            if not ready and not child_alive():
                _drain(master)
                break
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if fd == master:
                    if not data:
                        sources.remove(master)
                        break
                    _write_all(1, data)
                elif data:
                    _write_all(master, data)
                else:
                    sources.remove(0)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _drain(master: int) -> None:
    import select

    while select.select([master], [], [], 0)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        _write_all(1, data)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _copy_winsize(src: int, dst: int) -> None:
    import fcntl

    with ignored(OSError):
        fcntl.ioctl(dst, TIOCSWINSZ, fcntl.ioctl(src, TIOCGWINSZ, b"\0" * 8))
