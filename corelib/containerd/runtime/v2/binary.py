"""The shim binary (containerd's runtime/v2/binary.go): found from the runtime name, run as
`SHIM -namespace NS -address ADDR -publish-binary SELF -id ID start` (which prints the ttrpc address
of the long-lived shim it leaves behind) and `... -id ID -bundle B delete` (which cleans up after it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
import sys
from dataclasses import dataclass

from corelib import standby
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.containerd.runtime.v2.bundle import Bundle
from corelib.errdefs import InvalidArgument, WhaleError

log = logging.getLogger("whale-containerd.runtime")

SHIM_BINARY_FORMAT = "containerd-shim-{}-{}"
CLEANUP_TIMEOUT = 5.0
_resolved: dict[str, str] = {}
STANDBY_SHIM = "containerd-shim-whale-v2"  # the one shim that takes its `start` as a standby's order


def binary_name(runtime: str) -> str:
    parts = runtime.split(".")
    if len(parts) < 2:
        return ""
    return SHIM_BINARY_FORMAT.format(parts[-2], parts[-1])


def resolve_runtime_path(runtime: str) -> str:
    """The shim binary for a runtime name, looked up as containerd does: an absolute path as is; else
    `containerd-shim-NAME-VERSION` in the current directory, on $PATH, then beside this daemon."""
    if not runtime:
        raise InvalidArgument("no runtime name")
    if os.path.isabs(runtime):
        if not os.path.exists(runtime):
            raise InvalidArgument(f"invalid custom binary path: stat {runtime}: no such file or directory")
        return runtime
    name = binary_name(runtime)
    if not name:
        raise InvalidArgument(f"invalid runtime name {runtime}, correct runtime name should be either format like "
                              "`io.containerd.runc.v1` or a full path to the binary")
    if name in _resolved:
        return _resolved[name]
    beside_self = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), name)
    for candidate in (os.path.abspath(os.path.join(os.path.dirname(runtime), name)), shutil.which(name),
                      beside_self):
        if candidate and _is_executable_file(candidate):
            _resolved[name] = os.path.abspath(candidate)
            return _resolved[name]
    # containerd wraps os.ErrNotExist here, which its gRPC edge answers as Unknown
    raise WhaleError(f'runtime "{runtime}" binary not installed "{name}": file does not exist')


def _is_executable_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK)
    except OSError:
        return False


@dataclass
class ShimBinary:
    bundle: Bundle
    runtime: str  # the resolved path
    address: str  # containerd's gRPC socket
    ttrpc_address: str
    debug: bool = False

    def _command(self, args: list[str]) -> tuple[list[str], dict[str, str]]:
        argv = [self.runtime, "-namespace", self.bundle.namespace, "-address", self.address,
                "-publish-binary", os.path.abspath(sys.argv[0]), *args]
        env = {**os.environ, "GOMAXPROCS": "2", "TTRPC_ADDRESS": self.ttrpc_address}
        return argv, env

    async def start(self, options: bytes) -> str:
        """Run `start`; return the address the new shim serves on."""
        args = ["-id", self.bundle.id, *(["-debug"] if self.debug else []), "start"]
        argv, env = self._command(args)
        proc = await spares.take(self.runtime, argv, env, str(self.bundle.path))
        if proc is None:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=self.bundle.path, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, process_group=0)
        out, _ = await proc.communicate(options)
        text = out.decode(errors="replace").strip()
        if proc.returncode != 0:
            raise WhaleError(f"start failed: {text}: exit status {proc.returncode}")
        (self.bundle.path / "shim-binary-path").write_text(self.runtime)
        return text

    def prepare_spare(self) -> None:
        """A spare shim for this binary's next task (SpareShims), if it takes one."""
        spares.prepare(self.runtime, self._command([])[1])

    async def delete(self) -> shim_pb2.DeleteResponse:
        """Run `delete` (after the shim is gone), then remove the bundle."""
        argv, env = self._command(["-id", self.bundle.id, "-bundle", str(self.bundle.path), "delete"])
        cwd = self.bundle.path if self.bundle.path.is_dir() else None
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, process_group=0)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), CLEANUP_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise WhaleError(f"shim delete {self.bundle.id}: timed out") from None
        if proc.returncode != 0:
            raise WhaleError(f"{err.decode(errors='replace')}: exit status {proc.returncode}")
        if err.strip():
            log.warning("cleanup warnings %s", err.decode(errors="replace").strip())
        response = shim_pb2.DeleteResponse.FromString(out)
        await asyncio.to_thread(self.bundle.delete)  # filesystem work that can take a while: not on the loop
        return response


class SpareShims:
    """One standby of our shim per binary (corelib/standby.py), started once a task of that binary is torn
    down (not while it runs: on two cores its start-up would slow that task's own end), for the next one:
    its interpreter, imports and server (with whale-runc's standbys) ready, it is given `start`'s command
    line, environment and directory instead of being exec'd with them. Its stdio is the same as an exec'd
    `start` gets. The first task of a binary, and every other shim, is exec'd as usual."""

    def __init__(self) -> None:
        self._spares: dict[str, tuple[asyncio.subprocess.Process, object]] = {}
        self._starting: set[str] = set()

    async def take(self, runtime: str, argv: list[str], env: dict[str, str], cwd: str):
        spare = self._spares.pop(runtime, None)
        if spare is None:
            return None
        proc, sock = spare
        if proc.returncode is None and await asyncio.to_thread(standby.give, sock, argv, env, cwd):
            return proc
        with contextlib.suppress(ProcessLookupError):  # not a standby after all: it must not linger
            proc.kill()
        return None

    def prepare(self, runtime: str, env: dict[str, str]) -> None:
        if (os.path.basename(runtime) != STANDBY_SHIM or not standby.enabled() or runtime in self._spares
                or runtime in self._starting):
            return
        self._starting.add(runtime)
        asyncio.get_running_loop().create_task(self._spawn(runtime, env))

    async def _spawn(self, runtime: str, env: dict[str, str]) -> None:
        ours, theirs = standby.socketpair()
        try:
            # `standby` and blank room: `start`'s command line, then the server's title, are written over it
            proc = await asyncio.create_subprocess_exec(
                *standby.spawn_argv(runtime), env={**env, standby.ENV: str(theirs.fileno()), standby.IDLE_ENV: "0"},
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                pass_fds=(theirs.fileno(),), process_group=0)
        except OSError as e:
            log.warning("no spare shim %s: %s", runtime, e)
            ours.close()
            return
        finally:
            theirs.close()
            self._starting.discard(runtime)
        self._spares[runtime] = (proc, ours)

    async def close(self) -> None:
        """Stop the spares (they would see this daemon's end close anyway) and reap them."""
        spares, self._spares = self._spares, {}
        for proc, sock in spares.values():
            sock.close()
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


spares = SpareShims()


class ShimLog:
    """`<bundle>/log`: a fifo the shim writes its log to, copied to our stderr (containerd's openShimLog)."""

    def __init__(self, bundle: Bundle):
        path = bundle.path / "log"
        if not path.exists():
            os.mkfifo(path, 0o700)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.fd, self._copy)

    def _copy(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if data:
            sys.stderr.buffer.write(data)
            sys.stderr.buffer.flush()

    def close(self) -> None:
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
