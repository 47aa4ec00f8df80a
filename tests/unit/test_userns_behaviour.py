"""What whale-runc and the layer unpacker do as root of a user namespace (the rootless stack's case),
checked in a real one: a forked child of the test unshares a user namespace mapping only root."""

from __future__ import annotations

import ctypes
import io
import json
import os
import stat
import traceback
from collections.abc import Callable
from pathlib import Path

from corelib.images.unpack import apply_layer
from corelib.runc.logs import Logger
from corelib.runc.main import Context
from corelib.runc.userns import running_in_user_ns
from tests.integration.containerd.harness import layer_tar, tar_entry
from tests.support.env import missing, require_root

CLONE_NEWUSER = 0x10000000


def in_user_namespace(check: Callable[[], object]) -> object:
    """check()'s JSON-able result, run in a child that is root of a new user namespace mapping only
    root (uid 0 -> 0, one id: every other id is unmapped there)."""
    require_root()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER)")
            for name, text in (("setgroups", "deny"), ("uid_map", "0 0 1"), ("gid_map", "0 0 1")):
                Path(f"/proc/self/{name}").write_text(text)
            answer = {"result": check()}
        except BaseException:  # noqa: BLE001 - reported to the parent, never raised in the fork
            answer = {"error": traceback.format_exc()}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        raw = pipe.read()
    os.waitpid(pid, 0)
    answer = json.loads(raw or b'{"error": "no answer"}')
    if "unshare(CLONE_NEWUSER)" in answer.get("error", ""):
        missing(f"user namespaces cannot be created here: {answer['error'].splitlines()[-1]}")
    assert "error" not in answer, answer["error"]
    return answer["result"]


def rootless_cgroups() -> list[bool]:
    opts = {"log": "", "log-format": "text", "debug": False, "systemd-cgroup": False, "root": "/run/x"}
    logger = Logger("", "text")
    return [running_in_user_ns(), *(Context({**opts, "rootless": flag}, logger).rootless_cgroups
                                    for flag in ("auto", "false", "true"))]


def test_whale_runc_as_root_of_a_user_namespace_ignores_cgroup_permission_errors():
    assert rootless_cgroups() == [False, False, False, True]  # real root: runc's cgroups, errors are errors
    assert in_user_namespace(rootless_cgroups) == [True, True, False, True]


def test_unpack_as_root_of_a_user_namespace_keeps_unmapped_owners_and_skips_devices(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    layer = layer_tar(tar_entry("home", "dir", mode=0o755, uid=1000, gid=1000),
                      tar_entry("home/app", data=b"x", mode=0o640, uid=1000, gid=1000),
                      tar_entry("etc/passwd", data=b"root", uid=0, gid=0),
                      tar_entry("dev/null", "char", major=1, minor=3, mode=0o666))

    def unpack() -> list:
        apply_layer(str(root), io.BytesIO(layer))
        app = (root / "home/app").stat()
        return [stat.S_IMODE(app.st_mode), (root / "etc/passwd").stat().st_uid, os.path.lexists(root / "dev/null")]

    assert in_user_namespace(unpack) == [0o640, 0, False]
    assert (root / "home/app").stat().st_uid == 0  # left as the unpacking user: root of the namespace
