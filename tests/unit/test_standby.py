"""Standby processes (corelib/standby.py): an interpreter started ahead of its command, given its command
line, environment, directory and stdio later; the shim's reaper uses them for whale-runc only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from corelib import standby
from corelib.shim.reaper import Reaper

REPO = Path(__file__).resolve().parents[2]
ECHO_ORDER = ("import os, sys; sys.path.insert(0, {repo!r}); from corelib import standby;"
              " standby.take_order(3, {idle});"
              " print(sys.argv, os.getcwd(), os.environ.get('ORDERED'), os.environ.get('LEFT_BEHIND'));"
              " print(open('/proc/self/cmdline', 'rb').read().rstrip(bytes(1)).split(bytes(1))[1:]);"
              " sys.stderr.write('to stderr'); sys.exit(int(sys.argv[-1]))")


def spawn_echo_standby(idle: float, env: dict[str, str]) -> tuple[int, object]:
    """(pid, our socket end) of a Python standby that prints the order it takes."""
    ours, theirs = standby.socketpair()
    argv = [sys.executable, "-c", ECHO_ORDER.format(repo=str(REPO), idle=idle), *standby.spawn_argv("echo")[1:]]
    pid = os.posix_spawn(sys.executable, argv, env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, theirs.fileno(), 3)])
    theirs.close()
    return pid, ours


@pytest.fixture
def standby_child(tmp_path):
    pid, ours = spawn_echo_standby(10.0, {**os.environ, "LEFT_BEHIND": "yes"})
    yield pid, ours
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def test_a_standby_becomes_the_command_it_is_given(standby_child, tmp_path):
    pid, sock = standby_child
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    assert standby.give(sock, ["prog", "create", "7"], {"ORDERED": "yes", "PATH": os.environ["PATH"]}, str(tmp_path),
                        (null, out_w, err_w))
    for fd in (null, out_w, err_w):
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(out_r) as out, os.fdopen(err_r) as err:
        argv, cmdline = out.read().splitlines()
        assert argv == f"['prog', 'create', '7'] {tmp_path} yes None"
        assert cmdline == "[b'prog', b'create', b'7']"  # what ps shows: the interpreter, then the order
        assert err.read() == "to stderr"
    assert os.waitstatus_to_exitcode(status) == 7


def test_an_idle_standby_leaves_quietly_and_a_late_order_is_refused():
    pid, ours = spawn_echo_standby(0.2, dict(os.environ))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    null = os.open(os.devnull, os.O_RDWR)
    try:
        assert not standby.give(ours, ["prog", "0"], {}, "/", (null, null, null))
    finally:
        os.close(null)


def test_a_standby_whose_spawner_is_gone_exits(standby_child):
    pid, sock = standby_child
    sock.close()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def whale_runc() -> str:
    path = shutil.which("whale-runc") or str(Path(sys.executable).parent / "whale-runc")
    if not os.path.exists(path):
        pytest.skip("whale-runc is not installed (pip install -e .)")
    return path


def in_own_process(code: str, **values: str) -> None:
    """A Reaper waits for any child of its process: it gets a process of its own, not pytest's."""
    prelude = f"import os, sys, time; sys.path.insert(0, {str(REPO)!r}); from corelib.shim.reaper import Reaper\n"
    result = subprocess.run([sys.executable, "-c", prelude + code.format(**values)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_shims_reaper_gives_whale_runc_its_command_through_a_standby(tmp_path):
    in_own_process("""
exits = []
reaper = Reaper(on_exit=lambda pid, status: exits.append(pid))
reaper.start()
reaper.prepare({binary!r}, 2)
standby_pids = [pid for pid, _ in reaper._standbys[{binary!r}]]
assert len(standby_pids) == 2
out_r, out_w = os.pipe()
null = os.open(os.devnull, os.O_RDONLY)
pid = reaper.spawn([{binary!r}, "--root", {root!r}, "list", "--format", "json"], (null, out_w, out_w))
os.close(out_w)
assert pid == standby_pids[0], (pid, standby_pids)
assert reaper.wait(pid) == 0
assert os.read(out_r, 100).strip() == b"null", "runc's empty list in JSON"
assert [p for p, _ in reaper._standbys[{binary!r}]] == standby_pids[1:]
assert exits == []
""", binary=whale_runc(), root=str(tmp_path))
    plain = subprocess.run([whale_runc(), "--root", str(tmp_path), "list", "--format", "json"], capture_output=True,
                           text=True)
    assert plain.stdout.strip() == "null"


def test_an_idle_whale_runc_standby_is_reaped_without_a_word():
    in_own_process("""
exits = []
reaper = Reaper(on_exit=lambda pid, status: exits.append(pid))
reaper.start()
reaper.prepare({binary!r})
[(pid, sock)] = reaper._standbys[{binary!r}]
sock.close()  # as when the standby times out: its end sees nothing more
deadline = time.monotonic() + 30
while reaper._standbys[{binary!r}] and time.monotonic() < deadline:
    time.sleep(0.05)
assert reaper._standbys[{binary!r}] == []
assert not os.path.exists(f"/proc/{{pid}}")
time.sleep(0.1)
assert exits == []
""", binary=whale_runc())


def test_other_binaries_are_never_started_ahead(monkeypatch):
    reaper = Reaper()
    reaper.prepare("/usr/sbin/runc")
    assert reaper._standbys == {}
    monkeypatch.setenv(standby.DISABLE_ENV, "0")
    reaper.prepare("whale-runc")
    assert reaper._standbys == {}


def test_standbys_can_be_turned_off_for_a_whole_stack(monkeypatch):
    assert standby.enabled()
    monkeypatch.setenv(standby.DISABLE_ENV, "0")
    assert not standby.enabled()
