"""The part of rootlesskit the embedded stack needs, for a user who is not root: one user namespace
mapping the user to root (`unshare --user --map-root-user`, one id each), one private mount
namespace for the whole stack (whale-containerd's overlay mounts are what the shim and whale-runc
see), /run copied up (a tmpfs of symlinks to the host's entries, as `--copy-up=/run`), and a PID
namespace (`--pidns`) whose init is ours: when the stack's daemon exits, or the process that started
us dies, the kernel kills everything left in it (shims, containers), and its mounts go with it.

    python -m nbext.rootlesskit --state-dir DIR [--copy-up /run] -- whaled ARGS...

As in rootlesskit, the parent creates the namespaces and forwards signals; its child, pid 1 of the
new PID namespace, mounts /proc, runs the command, reaps orphans, and exits with the command's status.
Containers get their own network namespace (network none); there is no slirp4netns here."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time

from corelib.runc.linux import (
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    MS_BIND,
    MS_MOVE,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    PR_SET_PDEATHSIG,
    mount,
    prctl,
    unshare,
)

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_TIMEOUT = 30.0
# dockerd-rootless.sh removes these after the copy-up: the host's daemons' own state, which ours
# must not share (and cannot write).
HOST_ONLY = ("docker", "containerd", "whalebone", "whale-runc", "runc", "xtables.lock")


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def map_root_user(uid: int, gid: int) -> None:
    """`unshare --map-root-user`: the only id an unprivileged user may map is its own."""
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1\n"), ("gid_map", f"0 {gid} 1\n")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def copy_up(path: str, state_dir: str) -> None:
    """rootlesskit's tmpfs+symlink copy-up: a writable tmpfs on `path` whose entries are symlinks
    to the original ones (bind-mounted, hidden, at `path`/.ro), but the host daemons' own."""
    hidden = os.path.join(state_dir, "copyup" + path.replace("/", "-"))
    os.makedirs(hidden, exist_ok=True)
    mount(path, hidden, None, MS_BIND | MS_REC)
    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    original = os.path.join(path, ".ro")
    os.mkdir(original)
    mount(hidden, original, None, MS_MOVE)
    for name in os.listdir(original):
        if name not in HOST_ONLY:
            os.symlink(os.path.join(original, name), os.path.join(path, name))


def enter_namespaces(state_dir: str, copy_ups: list[str]) -> None:
    """In the parent: user namespace, then mount and PID namespaces owned by it (the PID one for
    the next child)."""
    map_root_user(os.getuid(), os.getgid())
    unshare(CLONE_NEWNS | CLONE_NEWPID)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for path in copy_ups:
        copy_up(path, state_dir)


def child_main(command: list[str]) -> int:
    """pid 1 of the new PID namespace: /proc of its own, the command as its child, orphans reaped."""
    set_pdeathsig(signal.SIGTERM)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    pid = os.fork()
    if pid == 0:
        for sig in FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        os.execvp(command[0], command)
    return supervise(pid)


def supervise(pid: int) -> int:
    """Forward the stopping signals to `pid`, reap every child, return `pid`'s exit status; if it
    does not stop in time after a signal, return anyway (the PID namespace's end kills it)."""
    deadline: list[float] = []

    def forward(sig: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline[:] = deadline or [time.monotonic() + STOP_TIMEOUT]

    for sig in FORWARDED:
        signal.signal(sig, forward)
    while True:
        try:
            reaped, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if reaped == pid:
            return os.waitstatus_to_exitcode(status) & 0xFF
        if reaped == 0:
            if deadline and time.monotonic() > deadline[0]:
                return 1
            time.sleep(0.05)


def parent_main(args: argparse.Namespace) -> int:
    started_by = os.getppid()
    enter_namespaces(args.state_dir, args.copy_up)
    set_pdeathsig(signal.SIGTERM)  # a new user namespace cleared the one our starter asked for
    if os.getppid() != started_by:
        return 1
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(child_main(args.command))
        except BaseException as e:  # noqa: BLE001 - the child must never return into the parent's code
            sys.stderr.write(f"rootlesskit: child: {e}\n")
            os._exit(1)
    return supervise(pid)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rootlesskit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", required=True, help="a directory of the stack's own")
    parser.add_argument("--copy-up", action="append", default=[], help="mount a writable tmpfs on this directory")
    parser.add_argument("command", nargs="+", help="the command to run in the namespaces")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        return parent_main(args)
    except OSError as e:
        sys.stderr.write(f"rootlesskit: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
