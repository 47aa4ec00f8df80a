"""`whale run -it` on a real pseudo-terminal: raw mode, the TTY stream, resize, the exit status, and
the terminal given back as it was."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time


def read_until(fd: int, needle: bytes, timeout: float = 30.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{needle!r} not seen in {data!r}")
        if select.select([fd], [], [], remaining)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_run_interactive_tty(clients):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    slave_name = os.ttyname(slave)

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {**os.environ, "WHALE_CONFIG": str(clients.whale_config)}
    proc = subprocess.Popen([clients.whale_bin, "-H", clients.dockerd.host, "run", "--rm", "-it", "--name",
                             "wt-tty", "--network", "none", "busybox", "sh"],
                            stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_tty, env=env)
    os.close(slave)
    try:
        read_until(master, b"# ")
        os.write(master, b"stty size; echo $((6*7)); exit 5\r")
        out = read_until(master, b"42")
        assert b"33 111" in out
        assert proc.wait(timeout=30) == 5
        fd = os.open(slave_name, os.O_RDWR | os.O_NOCTTY)
        try:
            lflag = termios.tcgetattr(fd)[3]
        finally:
            os.close(fd)
        assert lflag & termios.ECHO and lflag & termios.ICANON  # raw mode undone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        clients.docker("rm", "-f", "wt-tty")
