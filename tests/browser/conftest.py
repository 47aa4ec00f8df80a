from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbext.lab import free_port, jupyter_argv, wait_until_serving
from tests.integration.nbext.harness import GatedDockerd
from tests.support.cleanup import kill_and_wait, pids_with_marker
from tests.support.env import missing, require_binary

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class Lab:
    def __init__(self, root: Path, url: str, token: str):
        self.root, self.url, self.token = root, url, token

    def open_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"


@pytest.fixture(scope="module")
def dockerd(busybox_rootfs: Path) -> Iterator[GatedDockerd]:
    with GatedDockerd(busybox_rootfs) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def lab(dockerd: GatedDockerd) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 (nothing it would fetch from outside), its kernels on the real dockerd;
    its settings, runtime files and notebooks in a private directory."""
    root = Path(tempfile.mkdtemp(prefix="wb-lab-", dir="/tmp"))
    env = {**os.environ, "WHALE_HOST": dockerd.host, "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces")}
    port, token = free_port(), secrets.token_hex(16)
    with open(root / "lab.log", "wb") as log:
        proc = subprocess.Popen(jupyter_argv(root, port, token), env=env, stdout=log, stderr=log,
                                start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", token, proc)
        yield Lab(root, f"http://127.0.0.1:{port}", token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        kill_and_wait(pids_with_marker(str(root)))  # kernels: their connection files are under root
        subprocess.run(["rm", "-rf", str(root)], check=False)


@pytest.fixture
def browser() -> Iterator[object]:
    require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (the `lab` extra)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
