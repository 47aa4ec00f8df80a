"""`%load_ext nbext` with no daemon to connect to: the embedded stack (whaled on whale-containerd) for
the kernel's lifetime, and nothing left once the kernel is gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corelib.client.cli import run
from nbext.stack import EmbeddedStack
from tests.integration.nbext.harness import execute, notebook, texts
from tests.support.cleanup import pids_with_marker
from tests.support.env import require_binary, require_root


@pytest.fixture
def no_daemon(monkeypatch):
    require_root()
    monkeypatch.delenv("WHALE_HOST", raising=False)
    monkeypatch.delenv("WHALE_CONTAINERD", raising=False)


def test_load_ext_starts_an_embedded_stack_and_the_kernel_takes_it_away(no_daemon, tmp_path):
    nb = execute(notebook(
        "%load_ext nbext",
        "s = nbext.session(); print(s.stack.name); print(s.stack.dir)",
        "%container run --rm --name nb-embedded --network none busybox echo hello from whaled",
        "ev = nbext.events(); print(sorted(set(ev[ev['source'] == 'containerd']['type'])))",
    ), tmp_path)
    name, stack_dir = texts(nb.cells[1]).splitlines()
    assert name == "whaled + whale-containerd"
    assert texts(nb.cells[2]) == "hello from whaled\n"
    assert "/tasks/start" in texts(nb.cells[3]) and "/tasks/exit" in texts(nb.cells[3])
    assert not Path(stack_dir).exists() and pids_with_marker(stack_dir) == []


@pytest.mark.parametrize("daemon,containerd", [("dockerd", "containerd"), ("dockerd", "whale-containerd")])
def test_stacks_of_real_and_whalebone_layers(daemon, containerd):
    require_root()
    for binary in (daemon, containerd):
        if not binary.startswith("whale"):
            require_binary(binary)
    with EmbeddedStack(daemon, containerd) as stack:
        directory = str(stack.dir)
        out = stack.dir / "out"
        with open(out, "w") as stdout:
            status = run(["-H", stack.host, "run", "--rm", "--network", "none", "busybox", "echo", "hi"],
                         stdout=stdout)
        assert status == 0 and out.read_text() == "hi\n"
    assert not os.path.exists(directory) and pids_with_marker(directory) == []


def test_an_unknown_stack_is_refused_before_anything_starts():
    with pytest.raises(ValueError, match="unknown stack podman/containerd"):
        EmbeddedStack("podman", "containerd")


def test_whaled_on_whale_containerd_is_ours_all_the_way_down():
    """The embedded whaled + whale-containerd runs containers under our shim and whale-runc (a daemon
    given an existing containerd would otherwise default to containerd's runc shim, as dockerd does)."""
    require_root()
    from corelib.client.api import APIClient

    with EmbeddedStack() as stack:
        client = APIClient(stack.host)
        try:
            assert client.info()["DefaultRuntime"] == "whale"
            out = stack.dir / "out"
            with open(out, "w") as stdout:
                assert run(["-H", stack.host, "run", "-d", "--name", "nb-ours", "--network", "none", "busybox",
                            "sleep", "30"], stdout=stdout) == 0
            pid = client.inspect_container("nb-ours")["State"]["Pid"]
            shim = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            # our shim, its server retitled: python3 -m corelib.shim.main ...
            assert "corelib.shim" in Path(f"/proc/{shim}/cmdline").read_bytes().decode(errors="replace")
        finally:
            client.close()
