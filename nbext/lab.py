"""`make lab` (`python -m nbext.lab`): start a stack unless WHALE_HOST names one, then JupyterLab on the
notebooks, on 127.0.0.1 only, printing its URL; Ctrl-C stops both."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbext.stack import EmbeddedStack

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# Nothing that calls out to the internet: no update check, no news, no extension catalogue.
QUIET_LAB = ["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
             "--LabApp.extension_manager=readonly"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jupyter_argv(root_dir: Path, port: int, token: str, open_browser: bool = False) -> list[str]:
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root_dir}", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.open_browser={open_browser}", "--allow-root", *QUIET_LAB]


def wait_until_serving(url: str, token: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer at {url} in {timeout:.0f}s")


def start_stack(env: dict[str, str]) -> EmbeddedStack | None:
    """Our stack for the lab's lifetime, unless WHALE_HOST names a daemon; without root, the reason."""
    if env.get("WHALE_HOST"):
        print(f"Using the daemon at WHALE_HOST={env['WHALE_HOST']}")
        return None
    from nbext.stack import EmbeddedStack, StackUnavailable  # noqa: F811 - at run time

    try:
        stack = EmbeddedStack().start()
    except StackUnavailable as e:
        print(f"No container stack: {e}\nJupyterLab starts anyway; the notebooks say what works.", file=sys.stderr)
        return None
    env["WHALE_HOST"], env["WHALE_CONTAINERD"] = stack.host, stack.containerd_address
    print(f"Started {stack.name} at {stack.host}")
    return stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make lab", description=__doc__)
    parser.add_argument("--no-browser", action="store_true", help="print the URL only")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as Ctrl-C: stop JupyterLab, then the stack
    env = dict(os.environ)
    stack = start_stack(env)
    port, token = args.port or free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    from nbext.stack import die_with_parent

    proc = subprocess.Popen(jupyter_argv(args.notebooks, port, token, not args.no_browser), env=env,
                            preexec_fn=die_with_parent)
    try:
        wait_until_serving(url, token, proc)
        print(f"\nJupyterLab is ready: {url}/lab?token={token}\n(Ctrl-C stops it and the stack.)", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
