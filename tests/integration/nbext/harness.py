"""What the notebook tests share: a real dockerd with our busybox loaded, notebooks built from cells and
executed through a real kernel (nbclient), and readers for what they left (outputs, widget state)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from corelib.images.archive import write_docker_archive
from tests.support.cleanup import pids_with_marker
from tests.support.env import require_binary
from tests.support.real_dockerd import RealDockerd

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"


GATED_RUNC = """#!/bin/sh
# runc, except that `start` waits until the gate file exists: a container held while it starts.
for arg in "$@"; do
    if [ "$arg" = start ]; then
        while [ ! -e {gate} ]; do sleep 0.05; done
    fi
done
exec {runc} "$@"
"""


class GatedDockerd(RealDockerd):
    """A real dockerd with busybox loaded and one more runtime, `gated`: runc whose `start` is held
    until `open_gate()`, so a test can look at the front end while a container is still starting."""

    def __init__(self, busybox_rootfs: Path):
        super().__init__()
        self.busybox_rootfs = busybox_rootfs
        self.gate = self.dir / "gate-open"
        self.script = self.dir / "gated-runc"
        self.script.write_text(GATED_RUNC.format(gate=self.gate, runc=require_binary("runc")))
        self.script.chmod(0o755)
        self.extra_args = ["--add-runtime", f"gated={self.script}"]

    def start(self, timeout: float = 60.0) -> GatedDockerd:
        super().start(timeout)
        archive = self.dir / "busybox.tar"
        write_docker_archive(archive, self.busybox_rootfs, ["busybox:latest"])
        self.docker("load", "-i", str(archive))
        return self

    def stop(self) -> None:
        self.open_gate()  # a start still held would hold dockerd's shutdown too
        super().stop()

    def close_gate(self) -> None:
        self.gate.unlink(missing_ok=True)

    def open_gate(self) -> None:
        self.gate.touch()

    def wait_start_held(self, timeout: float = 60.0) -> bool:
        """Wait until a `gated-runc ... start` waits at the gate (dockerd answers no inspect meanwhile:
        the container is locked while it starts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in pids_with_marker(str(self.script)):
                with contextlib.suppress(OSError):
                    if b"start" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                        return True
            time.sleep(0.05)
        return False


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 180) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel (the test's environment, WHALE_HOST included); the kernel is
    shut down afterwards, whatever happened."""
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, store_widget_state=True,
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute()


def texts(cell: nbformat.NotebookNode, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == name)


def result_text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.data.get("text/plain", "") for o in cell.outputs if o.output_type == "execute_result")


def html(cell: nbformat.NotebookNode) -> str:
    return "".join(o.data.get("text/html", "") for o in cell.outputs if "data" in o)


def widget_states(nb: nbformat.NotebookNode, widget_class: str) -> list[dict]:
    """The saved state of every widget model of one class (e.g. "nbext.widget_table.ContainerTable")."""
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return [m["state"] for m in models.values() if m["state"].get("_anywidget_id") == widget_class]


def displayed_models(cell: nbformat.NotebookNode) -> list[str]:
    return [o.data["application/vnd.jupyter.widget-view+json"]["model_id"] for o in cell.outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]


class Kernel:
    """A real kernel driven message by message (jupyter_client), for what nbclient cannot show: when
    each output arrives relative to what the test does meanwhile."""

    def __init__(self, cwd: Path):
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(cwd))

    def execute(self, code: str) -> str:
        return self.client.execute(code)

    def messages(self, msg_id: str, timeout: float = 120.0) -> Iterator[dict]:
        """iopub messages of one execution, until the kernel is idle again (its last one)."""
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            yield msg
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return

    def run(self, code: str, timeout: float = 120.0) -> list[dict]:
        """Execute and return its iopub messages; an error in the cell fails the test."""
        msgs = list(self.messages(self.execute(code), timeout))
        errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
        assert not errors, "\n".join(e["ename"] + ": " + e["evalue"] for e in errors)
        return msgs

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
