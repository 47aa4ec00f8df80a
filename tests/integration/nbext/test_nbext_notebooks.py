"""Every notebook in notebooks/, executed top to bottom through a real kernel (as a fresh machine would,
against a real dockerd with containerd's events), and the outputs that teach checked."""

from __future__ import annotations

import nbformat
import pytest

from tests.integration.nbext.harness import NOTEBOOKS, execute, result_text, texts


@pytest.fixture
def stack_env(whale_host, dockerd, monkeypatch):
    monkeypatch.setenv("WHALE_CONTAINERD", str(dockerd.exec_root / "containerd" / "containerd.sock"))


def run_notebook(name: str, tmp_path) -> list:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return execute(nb, tmp_path, timeout=240).cells  # a cell that hangs is named before pytest-timeout (300 s)


def out(cells, source_start: str, stream: str = "stdout") -> str:
    """The output of the first code cell whose source starts so: its stream text and its value."""
    cell = next(c for c in cells if c.cell_type == "code" and c.source.startswith(source_start))
    return texts(cell, stream) + result_text(cell)


def test_notebook_list_is_the_series():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [
        "01-client-create-vs-run.ipynb", "02-daemon-create.ipynb", "03-daemon-start.ipynb",
        "04-containerd-shim-runc.ipynb", "05-swap-layers.ipynb", "06-analysis-50-runs.ipynb"]


def test_01_client(stack_env, tmp_path):
    cells = run_notebook("01-client-create-vs-run.ipynb", tmp_path)
    assert out(cells, "%container start -a") == "hello from a created container\n"
    assert out(cells, "%container run --rm --name nb01-run").startswith("one\ntwo\n<whale run: exit status 3")
    pull = out(cells, "%container run --rm 127.0.0.1:9", "stderr")
    assert "Unable to find image '127.0.0.1:9/whalebone/missing:1' locally" in pull
    assert "exit status 125" in out(cells, "%container run --rm 127.0.0.1:9")


def test_02_daemon_create(stack_env, tmp_path):
    cells = run_notebook("02-daemon-create.ipynb", tmp_path)
    assert 'Conflict. The container name "/nb02-raw" is already in use' in out(
        cells, "%container create --name nb02-raw", "stderr")
    assert "No such image: busybox:no-such-tag" in out(cells, "%container create --pull never", "stderr")
    assert "invalid reference format" in out(cells, "%container create --network none 'Bad", "stderr")
    assert "'State': 'created'" in out(cells, "info = client.inspect_container")


def test_03_daemon_start(stack_env, tmp_path):
    cells = run_notebook("03-daemon-start.ipynb", tmp_path)
    table = out(cells, "import os")
    for namespace in ("ipc", "mnt", "net", "pid", "uts"):
        assert any(line.startswith(namespace) and line.rstrip().endswith("True") for line in table.splitlines())
    assert len(out(cells, "%container exec nb03 hostname").split()[0]) == 12  # the short id


def test_04_containerd_shim_runc(stack_env, tmp_path):
    cells = run_notebook("04-containerd-shim-runc.ipynb", tmp_path)
    assert "containerd-shim-runc-v2" in out(cells, "from pathlib import Path\n\nimport pandas as pd")
    assert "'sleep', '60'" in out(cells, "import json\nimport os")
    events = out(cells, "nbext.flush()")
    assert "/tasks/start" in events and "/tasks/exit" in events


def test_05_swap_layers(stack_env, tmp_path):
    cells = run_notebook("05-swap-layers.ipynb", tmp_path)
    compared = out(cells, "spans = pd.concat(results)")
    assert "dockerd + containerd" in compared and "dockerd + whale-containerd" in compared


def test_06_analysis(stack_env, tmp_path):
    cells = run_notebook("06-analysis-50-runs.ipynb", tmp_path)
    assert out(cells, "spans = nbext.timings(all=True)").startswith("(50, ")
    assert "ContainerStart" in out(cells, "phases = ")
    plots = [o for c in cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(plots) == 2
