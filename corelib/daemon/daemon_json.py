"""daemon.json, dockerd's configuration file (`--config-file`): the subset whaled understands, merged
under the command line's flags as dockerd merges it, with dockerd's errors for unknown directives and
for directives given both ways."""

from __future__ import annotations

import argparse
import json
import os

DEFAULT_PATH = "/etc/whalebone/daemon.json"  # dockerd's is /etc/docker/daemon.json

# directive -> the argparse destination it sets
DIRECTIVES = {
    "hosts": "host", "data-root": "data_root", "exec-root": "exec_root", "containerd": "containerd",
    "containerd-namespace": "containerd_namespace", "pidfile": "pidfile", "default-runtime": "default_runtime",
    "cgroup-parent": "cgroup_parent", "live-restore": "live_restore", "log-level": "log_level", "debug": "debug",
    "shutdown-timeout": "shutdown_timeout", "metrics-addr": "metrics_addr", "runtimes": "runtimes",
}
FLAGS = {"hosts": ("-H", "--host"), "debug": ("-D", "--debug"), "pidfile": ("-p", "--pidfile"),
         "log-level": ("-l", "--log-level")}


class ConfigFileError(ValueError):
    pass


def load(path: str, explicit: bool) -> dict:
    """The file's directives; {} when the default file is absent (dockerd's behaviour)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        if explicit:
            raise ConfigFileError(f"unable to configure the Docker daemon with file {path}: open {path}: "
                                  "no such file or directory") from None
        return {}
    try:
        directives = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise ConfigFileError(f"unable to configure the Docker daemon with file {path}: {e}") from None
    if not isinstance(directives, dict):
        raise ConfigFileError(f"unable to configure the Docker daemon with file {path}: not a JSON object")
    return directives


def merge(args: argparse.Namespace, argv: list[str], path: str, directives: dict) -> None:
    """Set `args` from the file's directives; refuse unknown ones and ones the command line gives too."""
    unknown = sorted(set(directives) - DIRECTIVES.keys())
    if unknown:
        raise ConfigFileError(f"unable to configure the Docker daemon with file {path}: the following directives "
                              f"don't match any configuration option: {', '.join(unknown)}")
    conflicts = [f"{key}: (from flag: {getattr(args, DIRECTIVES[key])}, from file: {value})"
                 for key, value in sorted(directives.items()) if _given(argv, key)]
    if conflicts:
        raise ConfigFileError(f"unable to configure the Docker daemon with file {path}: the following directives "
                              f"are specified both as a flag and in the configuration file: {', '.join(conflicts)}")
    for key, value in directives.items():
        setattr(args, DIRECTIVES[key], value)


def _given(argv: list[str], key: str) -> bool:
    flags = FLAGS.get(key, (f"--{key}",))
    return any(arg == flag or arg.startswith(f"{flag}=") or (len(flag) == 2 and arg.startswith(flag) and arg != flag)
               for arg in argv for flag in flags)


def runtimes(directives: dict) -> dict[str, tuple[str, str]]:
    """The "runtimes" directive as {name: (path, runtimeType)}: a path (a runc-compatible binary under
    the default shim), or a runtimeType (a containerd shim; its runtime binary from the runc options'
    BinaryName, else the shim's default), as dockerd 23+."""
    out = {}
    for name, runtime in directives.items():
        if not isinstance(runtime, dict):
            raise ConfigFileError(f"invalid runtime {name!r}: expected an object")
        path, runtime_type = runtime.get("path", ""), runtime.get("runtimeType", "")
        if name in ("runc", "whale-runc"):
            raise ConfigFileError(f"runtime name '{name}' is reserved")
        if bool(path) == bool(runtime_type):
            raise ConfigFileError(f"runtime {name}: exactly one of path and runtimeType must be set")
        binary = (runtime.get("options") or {}).get("BinaryName", "") if runtime_type else path
        out[name] = (os.path.expanduser(binary), runtime_type)
    return out
