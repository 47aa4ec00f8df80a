"""The embedded stack for a user who is not root: when no user namespace can be made, the message
says why and what to do, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbext.rootless
import nbext.stack
from nbext.rootless import SECCOMP_HINT, unavailable_message, userns_blockers
from nbext.stack import EmbeddedStack, StackUnavailable


def proc(files: dict[str, str]):
    return lambda path: files.get(path)


def test_each_switch_that_forbids_user_namespaces_is_named_with_its_fix():
    blockers = userns_blockers(proc({"/proc/sys/kernel/unprivileged_userns_clone": "0",
                                     "/proc/sys/user/max_user_namespaces": "0",
                                     "/proc/self/status": "Name:\tpython\nSeccomp:\t2\n"}))
    assert blockers == [
        ("kernel.unprivileged_userns_clone = 0 (Debian's switch)", "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
        ("user.max_user_namespaces = 0", "sudo sysctl -w user.max_user_namespaces=28633")]


def test_a_seccomp_filter_is_the_suspect_when_no_switch_is_set():
    assert userns_blockers(proc({"/proc/sys/user/max_user_namespaces": "63704",
                                 "/proc/self/status": "Seccomp:\t2\nSeccomp_filters:\t1\n"})) == [SECCOMP_HINT]
    assert userns_blockers(proc({"/proc/self/status": "Seccomp:\t0\n"})) == []


def test_the_message_says_why_and_what_to_do():
    message = unavailable_message("rootlesskit: unshare: Operation not permitted\n",
                                  [("user.max_user_namespaces = 0", "sudo sysctl -w user.max_user_namespaces=28633")])
    assert message.startswith("nbext cannot start a container stack: it is not root, and it cannot run rootless "
                              "because this user may not create a user namespace: user.max_user_namespaces = 0.\n")
    assert "The attempt said: rootlesskit: unshare: Operation not permitted\n" in message
    assert ("What to do: sudo sysctl -w user.max_user_namespaces=28633; run JupyterLab as root (`sudo make lab`); "
            "or point WHALE_HOST at a daemon that runs") in message
    assert "the kernel refused it" in unavailable_message("", [])


def test_not_root_and_no_user_namespace_refuses_and_leaves_nothing(monkeypatch, tmp_path):
    made = []
    monkeypatch.setattr(nbext.stack, "rootless", lambda: True)
    monkeypatch.setattr(nbext.rootless, "probe", lambda state_dir: made.append(state_dir) or "unshare: EPERM")
    monkeypatch.setattr(nbext.rootless, "userns_blockers", lambda: [])
    with pytest.raises(StackUnavailable, match=r"(?s)cannot run rootless.*unshare: EPERM.*sudo make lab"):
        EmbeddedStack().start()
    assert made and not Path(made[0]).exists()


def test_not_root_only_whaled_on_whale_containerd(monkeypatch):
    monkeypatch.setattr(nbext.stack, "rootless", lambda: True)
    with pytest.raises(StackUnavailable, match="only whaled \\+ whale-containerd run rootless here"):
        EmbeddedStack("dockerd", "whale-containerd").start()


def test_the_launcher_finds_this_nbext():
    env = nbext.rootless.launcher_env()
    assert env["PYTHONPATH"].split(":")[0] == str(Path(nbext.__file__).resolve().parent.parent)
