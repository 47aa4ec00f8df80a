"""docker/cli's hijackedIOStreamer: the local terminal or pipes on one side, the hijacked attach (or
exec) stream on the other. Output is demultiplexed (no TTY) or copied raw (TTY); stdin is copied raw
and, at its end, the stream is half-closed so the container sees EOF while its output keeps coming."""

from __future__ import annotations

import contextlib
import threading

from corelib.client.transport.stdcopy import STDERR, Demuxer

TYPE_CHECKING = False  # typing itself is not imported: it costs the CLI's start-up time
if TYPE_CHECKING:
    from corelib.client.cli.streams import InStream, OutStream
    from corelib.client.transport.http import HijackedSocket

DEFAULT_ESCAPE_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q


def escape_keys(spec: str) -> bytes:
    """moby/term's ToBytes: "ctrl-p,ctrl-q" or single characters, comma-separated."""
    if not spec:
        return DEFAULT_ESCAPE_KEYS
    out = bytearray()
    for key in spec.split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
        elif key.startswith("ctrl-") and len(key) == 6 and ("a" <= key[5] <= "z" or key[5] in "@[\\]^_"):
            out.append(ord(key[5].upper()) - 64 if key[5].isalpha() else ord(key[5]) & 0x1F)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class EscapeProxy:
    """Holds back bytes that could begin the detach sequence; `feed` returns what may be sent."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = b""
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            self.held += bytes([b])
            if self.keys.startswith(self.held):
                if self.held == self.keys:
                    self.detached = True
                    self.held = b""
                    return bytes(out)
                continue
            out += self.held
            self.held = b""
        return bytes(out)


class HijackedIOStreamer:
    def __init__(self, sock: HijackedSocket, stdin: InStream | None, stdout: OutStream | None,
                 stderr: OutStream | None, tty: bool, detach_keys: str = ""):
        self.sock = sock
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.tty = tty
        self.detach_keys = detach_keys
        self.detached = False
        self._restore = None

    def stream(self) -> None:
        """Blocks until the output ends (the container exited and its output is drained) or the user
        typed the detach sequence."""
        self._setup_input()
        try:
            threading.Thread(target=self._copy_input, name="whale-stdin", daemon=True).start()
            if self.stdout is not None or self.stderr is not None:
                self._copy_output()
            else:
                self._input_done.wait()
        finally:
            self.restore_terminal()

    def _setup_input(self) -> None:
        self._input_done = threading.Event()
        self._escape = None
        if self.stdin is None or not self.tty:
            return
        self._escape = EscapeProxy(escape_keys(self.detach_keys))
        fd = self.stdin.fileno()
        if fd is not None and self.stdin.is_terminal():
            import termios
            import tty

            saved = termios.tcgetattr(fd)
            tty.setraw(fd)
            self._restore = lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def restore_terminal(self) -> None:
        restore, self._restore = self._restore, None
        if restore is not None:
            restore()

    def _copy_input(self) -> None:
        try:
            while self.stdin is not None:
                data = self.stdin.read_chunk()
                if not data:
                    break
                if self._escape is not None:
                    data = self._escape.feed(data)
                    if self._escape.detached:
                        self.detached = True
                        if data:
                            self.sock.sendall(data)
                        self.sock.close_write()
                        self._shutdown_read()
                        return
                if data:
                    self.sock.sendall(data)
        except OSError:
            pass
        finally:
            if not self.detached:
                self.sock.close_write()
            self._input_done.set()

    def _shutdown_read(self) -> None:
        import _socket

        with contextlib.suppress(OSError):
            self.sock.sock.shutdown(_socket.SHUT_RDWR)

    def _copy_output(self) -> None:
        if self.tty:
            while data := self.sock.recv():
                if self.stdout is not None:
                    self.stdout.write(data)
            self.restore_terminal()
            return
        demux = Demuxer()
        while data := self.sock.recv():
            for stream, payload in demux.feed(data):
                target = self.stderr if stream == STDERR else self.stdout
                if target is not None:
                    target.write(payload)
