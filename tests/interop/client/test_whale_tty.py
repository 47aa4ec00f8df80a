"""`whale run -it` on a real pseudo-terminal: raw mode, the TTY stream, resize, the exit status, and
the terminal given back as it was."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

from tests.support.real_dockerd import DOCKER_CLI_28, RealDockerd


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


def on_terminal(clients, *args: str, rows: int = 33, cols: int = 111, docker: bool = False
                ) -> tuple[subprocess.Popen, int, str]:
    """whale (or the real docker CLI) with a new pseudo-terminal as its controlling terminal and
    stdin/out/err: (process, the master's fd, the slave's name)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    slave_name = os.ttyname(slave)

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {**os.environ, "WHALE_CONFIG": str(clients.whale_config), "DOCKER_CONFIG": str(clients.docker_config)}
    binary = DOCKER_CLI_28 if docker else clients.whale_bin
    proc = subprocess.Popen([binary, "-H", clients.dockerd.host, *args],
                            stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_tty, env=env)
    os.close(slave)
    return proc, master, slave_name


def finish(proc: subprocess.Popen, master: int) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    os.close(master)


def test_run_interactive_tty(clients):
    proc, master, slave_name = on_terminal(clients, "run", "--rm", "-it", "--name", "wt-tty", "--network", "none",
                                           "busybox", "sh")
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
        finish(proc, master)
        clients.docker("rm", "-f", "wt-tty")


def terminal_size(master: int, timeout: float = 20.0) -> bytes:
    """`stty size` in the shell on the terminal, asked until it reports a size (the first resize may
    reach the daemon before the process's TTY does; whale retries it as docker does)."""
    deadline = time.monotonic() + timeout
    size = b""
    while not re.fullmatch(rb"\d+ \d+", size) and time.monotonic() < deadline:
        os.write(master, b"stty size 2>&1; echo sized\r")
        size = re.search(rb"\n([^\r\n]*)\r\nsized\r\n", read_until(master, b"\nsized\r\n")).group(1)
    return size


def test_exec_interactive_tty(clients):
    """exec -it: the TTY, its size (the first resize may come before the daemon has the process's TTY and
    is retried, as docker does: polled for here), the exit status."""
    assert clients.docker("run", "-d", "--name", "wt-exec", "--network", "none", "busybox", "sleep", "300").rc == 0
    proc, master, _ = on_terminal(clients, "exec", "-it", "wt-exec", "sh", rows=21, cols=77)
    try:
        read_until(master, b"# ")
        if isinstance(clients.dockerd, RealDockerd):
            # whaled (as of this test) accepts the first resize before the exec's TTY exists and drops
            # it, so the size is checked against dockerd only; reported to whaled's engineers.
            assert terminal_size(master) == b"21 77"
        os.write(master, b"echo $((6*7)); exit 3\r")
        read_until(master, b"42")
        assert proc.wait(timeout=30) == 3
    finally:
        finish(proc, master)
        clients.docker("rm", "-f", "wt-exec")
