"""whale-containerd started by a test, mirroring tests/support/real_containerd.RealContainerd: its own
root, state and socket; `.ctr(...)` runs the real ctr against it; `.stub(...)` a gRPC stub on it."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import grpc

from tests.support import cleanup
from tests.support.env import require_binary, require_root, venv_bin
from tests.support.real_containerd import RealContainerd


def unique_namespace(seed: str) -> str:
    """A namespace name no other test uses, valid as containerd identifiers must be (no `_`)."""
    return f"wbtest{os.getpid()}x{re.sub('[^a-z0-9]', '0', seed[-6:].lower())}"


def real_containerd() -> RealContainerd:
    """The real containerd, in a namespace valid whatever its temporary directory is called."""
    return RealContainerd(namespace=unique_namespace(f"{next(_instances):06d}"))


_instances = itertools.count()


class WhaleContainerd:
    """`whale-containerd` in a private directory. Everything it made (shims, containers, mounts,
    cgroups of its namespace) goes on `stop()`; `kill()` stops the daemon alone, as a crash would."""

    def __init__(self, namespace: str | None = None, extra_path: list[str] | None = None, use_config: bool = False):
        require_root()
        self.binary = venv_bin("whale-containerd")
        self.ctr_binary = require_binary("ctr")
        self.dir = Path(tempfile.mkdtemp(prefix="wb-wcd-", dir="/tmp"))
        self.root = self.dir / "root"
        self.state = self.dir / "state"
        self.address = str(self.dir / "c.sock")
        self.namespace = namespace or unique_namespace(self.dir.name)
        self.extra_path = extra_path or []
        self.log_path = self.dir / "containerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self.use_config = use_config

    def start(self, timeout: float = 30.0) -> WhaleContainerd:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([*self.extra_path, env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, *self._arguments()], stdout=log, stderr=log, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"whale-containerd exited {self.proc.returncode}:\n{self.log()}")
            if os.path.exists(self.address) and self._answers():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"whale-containerd did not come up in {timeout}s:\n{self.log()}")

    def _arguments(self) -> list[str]:
        if not self.use_config:
            return ["--root", str(self.root), "--state", str(self.state), "--address", self.address,
                    "--log-level", "debug"]
        config = self.dir / "config.toml"
        config.write_text(f'version = 2\nroot = "{self.root}"\nstate = "{self.state}"\n'
                          f'[grpc]\n  address = "{self.address}"\n[debug]\n  level = "debug"\n')
        return ["--config", str(config)]

    def _answers(self) -> bool:
        return self.ctr("version", check=False, timeout=5).returncode == 0

    def ctr(self, *args: str, check: bool = True, timeout: float = 60, input: bytes | None = None,
            namespace: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self.ctr_binary, "--address", self.address, "--namespace", namespace or self.namespace, *args]
        result = subprocess.run(argv, capture_output=True, timeout=timeout, input=input, text=input is None)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = grpc.insecure_channel(f"unix:{self.address}")
        return self._channel

    def stub(self, stub_class: type):  # noqa: ANN201 - a generated gRPC stub
        return stub_class(self.channel())

    def metadata(self, namespace: str | None = None) -> list[tuple[str, str]]:
        return [("containerd-namespace", namespace or self.namespace)]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop the daemon alone (its shims and containers live on), as a crash or restart would."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def restart(self, sig: int = signal.SIGTERM) -> WhaleContainerd:
        self.kill(sig)
        return self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self._remove_tasks()
        self.kill(signal.SIGTERM)
        cleanup.kill_and_wait(cleanup.pids_with_marker(self.address))
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(self.dir)))
        cleanup.unmount_all_under(str(self.dir))
        cleanup.remove_cgroups_named(self.namespace)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _remove_tasks(self) -> None:
        with contextlib.suppress(Exception):
            for line in self.ctr("task", "ls", "-q", check=False, timeout=10).stdout.split():
                self.ctr("task", "kill", "-s", "SIGKILL", line, check=False, timeout=10)
                self.ctr("task", "rm", "-f", line, check=False, timeout=10)
            for line in self.ctr("containers", "ls", "-q", check=False, timeout=10).stdout.split():
                self.ctr("containers", "rm", line, check=False, timeout=10)

    def __enter__(self) -> WhaleContainerd:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns something truthy (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def tar_entry(name: str, kind: str = "file", data: bytes = b"", mode: int = 0o644, linkname: str = "",
              uid: int = 0, gid: int = 0, major: int = 0, minor: int = 0):  # noqa: ANN201 - (TarInfo, data)
    """One member of a test layer: kind is file, dir, symlink, hardlink, char, block or fifo."""
    import tarfile

    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
                 "fifo": tarfile.FIFOTYPE}[kind]
    info.mode, info.uid, info.gid, info.linkname = mode, uid, gid, linkname
    info.devmajor, info.devminor = major, minor
    info.size = len(data)
    info.mtime = 1_600_000_000
    return info, data


def layer_tar(*entries) -> bytes:  # noqa: ANN002
    """A layer tar made of `tar_entry(...)` members, in order."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


class CtrEvents:
    """`ctr events` running beside a test, its lines collected by a thread as they come."""

    def __init__(self, ctd):  # noqa: ANN001 - WhaleContainerd or RealContainerd
        import threading

        self.proc = subprocess.Popen([ctd.ctr_binary, "--address", ctd.address, "events"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def topics(self, namespace: str) -> list[str]:
        """Topics in arrival order (a line: DATE TIME +0000 UTC NAMESPACE TOPIC JSON)."""
        return [line.split()[5] for line in list(self.lines) if len(line.split()) > 5 and line.split()[4] == namespace]

    def matching(self, *parts: str) -> list[str]:
        return [line for line in list(self.lines) if all(p in line for p in parts)]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=5)

    def __enter__(self) -> CtrEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
