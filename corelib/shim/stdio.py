"""A container process's stdio, from the paths containerd gives (fifos, files, file:// URIs, or none).

Unlike the Go shim, which puts pipes between the process and the fifos and copies with goroutines,
the process gets the fifos themselves: no copy, no thread, no buffer per stream in the shim. What
the copy gave is kept: the shim holds a read end of each output fifo so the process never gets
SIGPIPE when the reader (ctr, dockerd) goes away, and a write end of the stdin fifo so the
process sees EOF only once CloseIO says so. A terminal is the exception: its master is copied.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading

from corelib import errdefs

READ_SIZE = 1 << 15


class ProcessIO:
    def __init__(self, stdin: str, stdout: str, stderr: str, terminal: bool = False):
        self.stdin, self.stdout, self.stderr, self.terminal = stdin, stdout, stderr, terminal
        self._handed: list[int] = []  # ends the process gets; ours are closed once runc has passed them on
        self._kept: list[int] = []  # ends the shim holds for the process's lifetime
        self._stdin_writer = -1
        self._console: Console | None = None
        self._console_fds = (-1, -1)

    def open(self) -> tuple[int, int, int]:
        """The fds runc must give the process (with a terminal: runc's own, the process gets the pty)."""
        try:
            stdin = self._open_stdin()
            stdout = self._open_output(self.stdout)
            if self.terminal:  # the process gets the pty; these two are for copying to and from it
                self._handed.remove(stdin)
                self._handed.remove(stdout)
                self._console_fds = (stdin, stdout)
                null = self._hand(os.open(os.devnull, os.O_RDWR))
                return null, null, null
            stderr = stdout if _same_file(self.stdout, self.stderr) else self._open_output(self.stderr)
        except BaseException:
            self.close()
            raise
        return stdin, stdout, stderr

    def _open_stdin(self) -> int:
        if not self.stdin:
            return self._hand(os.open(os.devnull, os.O_RDONLY))
        reader = self._hand(os.open(self.stdin, os.O_RDONLY | os.O_NONBLOCK))
        os.set_blocking(reader, True)
        # our write end: without it the process would read EOF before containerd's client opens its own
        self._stdin_writer = os.open(self.stdin, os.O_WRONLY | os.O_NONBLOCK)
        return reader

    def _open_output(self, uri: str) -> int:
        path = _file_path(uri)
        if not path:
            return self._hand(os.open(os.devnull, os.O_WRONLY))
        if _is_fifo(path):
            self._kept.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            return self._hand(os.open(path, os.O_WRONLY))
        return self._hand(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))

    def _hand(self, fd: int) -> int:
        self._handed.append(fd)
        return fd

    def handed_over(self) -> None:
        """runc has given the process its copies: ours must go, or readers would never see EOF."""
        _close_all(self._handed)

    def attach_console(self, master: int) -> None:
        """Copy between the terminal's master and the fifos; the console closes them when done."""
        self._console = Console(master, *self._console_fds)
        self._console_fds = (-1, -1)
        self._console.start()

    def resize(self, width: int, height: int) -> None:
        if self._console is not None:
            self._console.resize(width, height)

    def close_stdin(self) -> None:
        if self._stdin_writer >= 0:
            _close(self._stdin_writer)
            self._stdin_writer = -1

    def wait_output(self, timeout: float) -> None:
        """Let a terminal's last output reach the fifo before the process is reported gone."""
        if self._console is not None:
            self._console.wait(timeout)

    def close(self) -> None:
        _close_all(self._handed)
        self.close_stdin()
        _close_all(self._kept)
        _close_all([fd for fd in self._console_fds if fd >= 0])
        if self._console is not None:
            self._console.close()


class Console:
    """A terminal's master side, copied to the stdout fifo and from the stdin fifo."""

    def __init__(self, master: int, stdin: int, stdout: int):
        self.master = master
        self._stdin = stdin
        self._stdout = stdout
        self._done = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._copy_out, daemon=True).start()
        threading.Thread(target=self._copy_in, daemon=True).start()

    def _copy_out(self) -> None:
        try:
            while data := os.read(self.master, READ_SIZE):
                _write_all(self._stdout, data)
        except OSError:
            pass  # EIO: every slave end is closed, the process is gone
        finally:
            _close(self._stdout)
            self._done.set()

    def _copy_in(self) -> None:
        try:
            while data := os.read(self._stdin, READ_SIZE):
                _write_all(self.master, data)
        except OSError:
            pass
        finally:
            _close(self._stdin)

    def resize(self, width: int, height: int) -> None:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def wait(self, timeout: float) -> None:
        self._done.wait(timeout)

    def close(self) -> None:
        _close(self.master)


def _file_path(uri: str) -> str:
    """A fifo or file path; file:// URIs name a file; other schemes (binary://) are not supported."""
    if "://" not in uri:
        return uri
    scheme, _, rest = uri.partition("://")
    if scheme == "fifo":
        return rest
    if scheme == "file":
        if not rest.startswith("/"):
            raise errdefs.InvalidArgument(f"unable to parse stdout uri: {uri}")
        os.makedirs(os.path.dirname(rest), exist_ok=True)
        return rest
    raise errdefs.NotImplemented(f"unknown STDIO scheme {scheme}")


def _same_file(a: str, b: str) -> bool:
    return bool(a) and a == b and not _is_fifo(_file_path(a))


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _close_all(fds: list[int]) -> None:
    for fd in set(fds):
        _close(fd)
    fds.clear()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
