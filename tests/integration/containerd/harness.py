"""whale-containerd started by a test as tests/support/real_containerd.RealContainerd starts the real one:
its own root, state and socket; `.ctr(...)` runs the real ctr against it; `.stub(...)` a gRPC stub on it."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time

import grpc

from tests.support.env import venv_bin
from tests.support.real_containerd import RealContainerd


def unique_namespace(seed: str) -> str:
    """A namespace name no other test uses, valid as containerd identifiers must be (no `_`)."""
    return f"wbtest{os.getpid()}x{re.sub('[^a-z0-9]', '0', seed[-6:].lower())}"


def real_containerd() -> RealContainerd:
    """The real containerd, in a namespace valid whatever its temporary directory is called."""
    return RealContainerd(namespace=unique_namespace(f"{next(_instances):06d}"))


_instances = itertools.count()


class WhaleContainerd(RealContainerd):
    """`whale-containerd`, started exactly as RealContainerd starts the real one (the same containerd
    config file in a private directory), with the same cleanup: everything it made (shims, containers,
    mounts, cgroups of its namespace) goes on `stop()`; `kill()` stops the daemon alone, as a crash would."""

    def __init__(self, namespace: str | None = None, extra_path: list[str] | None = None):
        # whale-containerd must not need the real containerd installed: the binary is ours.
        super().__init__(extra_path, namespace, binary=venv_bin("whale-containerd"), prefix="wb-wcd-")
        self.namespace = namespace or unique_namespace(self.dir.name)
        self._channel: grpc.Channel | None = None

    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = grpc.insecure_channel(f"unix:{self.address}")
        return self._channel

    def stub(self, stub_class: type):  # noqa: ANN201 - a generated gRPC stub
        return stub_class(self.channel())

    def metadata(self, namespace: str | None = None) -> list[tuple[str, str]]:
        return [("containerd-namespace", namespace or self.namespace)]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        super().kill(sig)

    def restart(self, sig: int = signal.SIGTERM) -> WhaleContainerd:
        self.kill(sig)
        return self.start()


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
              uid: int = 0, gid: int = 0, major: int = 0, minor: int = 0,
              pax: dict[str, str] | None = None):  # noqa: ANN201 - (TarInfo, data)
    """One member of a test layer: kind is file, dir, symlink, hardlink, char, block or fifo."""
    import tarfile

    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
                 "fifo": tarfile.FIFOTYPE}[kind]
    info.mode, info.uid, info.gid, info.linkname = mode, uid, gid, linkname
    info.devmajor, info.devminor = major, minor
    info.size = len(data)
    info.mtime = 1_500_000_000
    info.pax_headers = pax or {}
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
