"""`make lab`'s program: JupyterLab on the notebooks with the stack in its environment, the URL printed,
everything gone after SIGTERM (what Ctrl-C does too)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request

from tests.support.cleanup import pids_with_marker


def test_lab_prints_its_url_serves_the_notebooks_and_stops_clean(whale_host, tmp_path):
    (tmp_path / "hello.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    proc = subprocess.Popen([sys.executable, "-m", "nbext.lab", "--no-browser", "--notebooks", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "JupyterLab is ready" in line:
                break
        assert lines[0] == f"Using the daemon at WHALE_HOST={whale_host}\n"
        url, token = re.search(r"(http://127\.0\.0\.1:\d+)/lab\?token=(\w+)", lines[-1]).groups()
        request = urllib.request.Request(f"{url}/api/contents/hello.ipynb",
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    deadline = time.monotonic() + 30
    while pids_with_marker(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids_with_marker(str(tmp_path)) == []
