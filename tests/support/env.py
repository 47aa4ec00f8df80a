"""What the tests need from the machine, and how they say so when it is missing.

Locally a missing real component skips the test with the reason; in CI (CI=true) everything is
installed by `make test`, so a missing component is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must have this: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if not path:
        missing(f"{name} is not installed (Debian package; `make test` installs it as root)")
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        missing("needs root (namespaces, mounts, cgroups)")


def venv_bin(name: str) -> str:
    """A console script of this project, from the environment the tests run in."""
    import sys

    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(candidate, os.X_OK):
        return candidate
    return require_binary(name)
