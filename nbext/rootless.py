"""Whether the embedded stack can run rootless here, and if not, why and what to do.

A user who is not root runs the stack in a user namespace (nbext.rootlesskit). Where the kernel or
a sandbox forbids unprivileged user namespaces, the reason is one of a few switches; the message
names the one that is set, and the ways around it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# (file, value that forbids, what it means, the fix)
SWITCHES = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone = 0 (Debian's switch)",
     "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces = 0",
     "sudo sysctl -w user.max_user_namespaces=28633"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu's AppArmor rule)",
     "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
)
SECCOMP_HINT = ("a seccomp filter on this process (\"Seccomp: 2\" in /proc/self/status) may deny unshare, as "
                "a container's default profile does (e.g. on mybinder)",
                "run the notebook where containers may be created (a VM or your machine), not inside a container")
ALWAYS = ("run JupyterLab as root (`sudo make lab`)",
          "or point WHALE_HOST at a daemon that runs (e.g. WHALE_HOST=unix:///run/whalebone/whaled.sock, "
          "or a Docker daemon's socket)")


def read_proc(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def seccomp_mode(read: Callable[[str], str | None] = read_proc) -> str:
    status = read("/proc/self/status") or ""
    return next((line.split()[1] for line in status.splitlines() if line.startswith("Seccomp:")), "0")


def userns_blockers(read: Callable[[str], str | None] = read_proc) -> list[tuple[str, str]]:
    """(why, fix) for each switch that forbids an unprivileged user namespace here."""
    found = [(why, fix) for path, value, why, fix in SWITCHES if read(path) == value]
    if not found and seccomp_mode(read) == "2":
        found.append(SECCOMP_HINT)
    return found


def unavailable_message(error: str, blockers: list[tuple[str, str]]) -> str:
    """The StackUnavailable text when neither root nor a user namespace is there."""
    why = "; ".join(w for w, _ in blockers) or "the kernel refused it"
    fixes = [fix for _, fix in blockers] + list(ALWAYS)
    return ("nbext cannot start a container stack: it is not root, and it cannot run rootless because this user "
            f"may not create a user namespace: {why}.\n"
            f"The attempt said: {error.strip() or 'no reason given'}\n"
            "What to do: " + "; ".join(fixes) + ".\n"
            "Without a daemon, the DataFrame and analysis parts of the notebooks still work on saved spans.")


def probe(state_dir: str, timeout: float = 30.0) -> str | None:
    """Run `true` in the namespaces the stack would use; None when that works, else what failed."""
    argv = [sys.executable, "-m", "nbext.rootlesskit", "--state-dir", state_dir, "--", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=launcher_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if done.returncode == 0 else (done.stderr or f"exit status {done.returncode}")


def launcher_env() -> dict[str, str]:
    """The environment for `python -m nbext.rootlesskit`: this nbext first on its path."""
    import nbext

    here = str(Path(nbext.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{here}:{path}" if path else here}

