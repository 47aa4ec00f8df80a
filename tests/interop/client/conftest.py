"""whale against a real dockerd (Debian's 20.10), beside the real docker CLI on the same daemon.

One dockerd per test module (CI budget); busybox:latest is loaded into it from the busybox rootfs
archive, so nothing needs the network."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from corelib.images.archive import write_docker_archive
from tests.integration.daemon import harness
from tests.support.env import venv_bin
from tests.support.real_dockerd import DOCKER_CLI_20, DOCKER_CLI_28, RealDockerd

ID_RE = re.compile(r"\b[0-9a-f]{64}\b")
DURATION_RE = re.compile(r"Less than a second|About an? (?:minute|hour)"
                         r"|\d+ (?:second|minute|hour|day|week|month|year)s?")


def wait_until(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    """Poll (never a fixed sleep) until `predicate()` holds; fail after a generous timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def timeless(table: str) -> str:
    """A table with its durations ("2 seconds ago", "Up 1 second") blanked and runs of spaces shortened,
    so that two listings a moment apart compare equal."""
    return re.sub(r" {2,}", "  ", DURATION_RE.sub("<T>", table))


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.out = proc.stdout if isinstance(proc.stdout, str) else proc.stdout.decode()
        self.err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode()

    def as_docker(self) -> tuple[int, str, str]:
        """The result with whale's name where docker says "docker", to compare the two."""
        return self.rc, self.out.replace("whale", "docker"), self.err.replace("whale", "docker")

    def __repr__(self) -> str:
        return f"Result(rc={self.rc}, out={self.out!r}, err={self.err!r})"


class Clients:
    """Runs whale and the real docker CLI (28.x by default) against one daemon, each with its own
    config directory."""

    def __init__(self, dockerd: RealDockerd, tmp: Path):
        self.dockerd = dockerd
        self.whale_bin = venv_bin("whale")
        self.whale_config = tmp / "whale-config"
        self.docker_config = tmp / "docker-config"
        self.whale_config.mkdir(exist_ok=True)
        self.docker_config.mkdir(exist_ok=True)

    def whale(self, *args: str, input: str | bytes | None = None, timeout: float = 60,
              env: dict[str, str] | None = None) -> Result:
        full_env = {**os.environ, "WHALE_CONFIG": str(self.whale_config), **(env or {})}
        full_env.pop("WHALE_HOST", None)
        proc = subprocess.run([self.whale_bin, "-H", self.dockerd.host, *args], capture_output=True,
                              input=input, text=not isinstance(input, bytes), timeout=timeout, env=full_env)
        return Result(proc)

    def docker(self, *args: str, input: str | bytes | None = None, timeout: float = 60, cli: str = DOCKER_CLI_28
               ) -> Result:
        env = {**os.environ, "DOCKER_CONFIG": str(self.docker_config)}
        proc = subprocess.run([cli, "-H", self.dockerd.host, *args], capture_output=True, input=input,
                              text=not isinstance(input, bytes), timeout=timeout, env=env)
        return Result(proc)

    def both(self, *args: str, input: str | None = None) -> tuple[Result, Result]:
        return self.whale(*args, input=input), self.docker(*args, input=input)


class Whaled(harness.Whaled):
    """whaled with its own whale-containerd (its default), RealDockerd's face: `.host`, `.docker(...)`
    (the real docker CLI, 20.10 unless told), `.stop()` leaving nothing behind."""

    def __init__(self) -> None:
        super().__init__(prefix="wb-cwhd-", log_level="info")  # `info` as dockerd's: no debug section

    def docker(self, *args: str, cli: str = DOCKER_CLI_20, check: bool = True, timeout: float = 120,
               input: bytes | str | None = None) -> subprocess.CompletedProcess:
        return super().docker(*args, cli=cli, check=check, timeout=timeout, input=input)


DAEMONS: dict[str, type] = {"dockerd": RealDockerd}
if importlib.util.find_spec("corelib.daemon.main") is not None:  # whaled, once it is in the tree
    DAEMONS["whaled"] = Whaled


@pytest.fixture(scope="module", params=sorted(DAEMONS))
def dockerd(request: pytest.FixtureRequest, busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory):
    """The daemon under test: the real dockerd 20.10, and whaled."""
    archive = tmp_path_factory.mktemp("busybox-archive") / "busybox.tar"
    write_docker_archive(archive, busybox_rootfs, ["busybox:latest"])
    with DAEMONS[request.param]() as daemon:
        daemon.docker("load", "-i", str(archive))
        daemon.busybox_archive = archive
        yield daemon


@pytest.fixture(scope="module")
def clients(dockerd: RealDockerd, tmp_path_factory: pytest.TempPathFactory) -> Clients:
    return Clients(dockerd, tmp_path_factory.mktemp("clients"))


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "env"
    path.write_text("# a comment\nBAR=bar\n\nUNSET_IN_WHALE_TESTS\n")
    return path
