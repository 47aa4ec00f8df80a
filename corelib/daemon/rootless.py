"""whaled in a user namespace (rootless, as dockerd under rootlesskit): how it knows, and moby's
`pkg/rootless/specconv.ToRootless` with what runc's own `specconv.ToRootless` adds for a namespace
that maps a single id:
- no cgroups (not delegated, so not writable): no cgroupsPath, no resources;
- the OOM score not lowered below the daemon's own;
- no `uid=`/`gid=` mount options for ids the namespace does not map (devpts gid=5);
- net.ipv4.ping_group_range narrowed to the mapped gids (the kernel refuses others with EINVAL);
- /proc, /sys and /dev/mqueue bound from the daemon's when the container shares its PID, network or
  IPC namespace (a new proc, sysfs or mqueue needs a namespace the user namespace owns); no
  /dev/mqueue at all when the daemon has none to bind.
Only ever applied in a user namespace: as real root the spec is Docker's, untouched."""

from __future__ import annotations

import os

ROOTLESS_WARNING = "Running in rootless mode. Cgroups are disabled."
IdMap = list[tuple[int, int]]  # (first id inside, count)
PING_GROUP_RANGE = "net.ipv4.ping_group_range"
MQUEUE = "/dev/mqueue"



def read_id_map(path: str) -> IdMap:
    """The ids mapped in this namespace, as (first id inside, count) from /proc/self/{uid,gid}_map."""
    with open(path) as f:
        return [(int(inside), int(count)) for inside, _, count in (line.split() for line in f if line.strip())]


def current_oom_score_adj() -> int:
    try:
        with open("/proc/self/oom_score_adj") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def is_mapped(ident: int, id_map: IdMap) -> bool:
    return any(first <= ident < first + count for first, count in id_map)


def _unmapped_id_option(option: str, uids: IdMap, gids: IdMap) -> bool:
    key, eq, value = option.partition("=")
    if not eq or key not in ("uid", "gid") or not value.isdigit():
        return False
    return not is_mapped(int(value), uids if key == "uid" else gids)


def _mapped_range(low: int, high: int, id_map: IdMap) -> tuple[int, int] | None:
    """The lowest and highest mapped ids within [low, high]."""
    overlaps = [(max(low, first), min(high, first + count - 1)) for first, count in id_map
                if max(low, first) <= min(high, first + count - 1)]
    return (min(o[0] for o in overlaps), max(o[1] for o in overlaps)) if overlaps else None


def _narrow_ping_group_range(sysctl: dict, gids: IdMap) -> None:
    value = sysctl.get(PING_GROUP_RANGE)
    if value is None:
        return
    try:
        low, high = (int(v) for v in value.split())
    except ValueError:
        return  # not ours to judge: the runtime says what is wrong with it
    narrowed = _mapped_range(low, high, gids)
    if narrowed is None:
        del sysctl[PING_GROUP_RANGE]
    else:
        sysctl[PING_GROUP_RANGE] = f"{narrowed[0]} {narrowed[1]}"


def _shares(spec: dict, kind: str) -> bool:
    """The container joins the daemon's namespace of this kind (none of its own, or a path)."""
    for ns in spec.get("linux", {}).get("namespaces", []):
        if ns["type"] == kind:
            return bool(ns.get("path"))
    return True


def _bind_from_host(mount: dict, options: list[str]) -> None:
    mount.update(type="bind", source=mount["destination"], options=["rbind", *options])


def _fix_mounts(spec: dict, uids: IdMap, gids: IdMap, host_mqueue: bool) -> None:
    kept = []
    for mount in spec.get("mounts", []):
        mount["options"] = [o for o in mount.get("options", []) if not _unmapped_id_option(o, uids, gids)]
        kind = mount.get("type")
        if kind == "proc" and _shares(spec, "pid"):
            _bind_from_host(mount, ["nosuid", "noexec", "nodev"])
        elif kind == "sysfs" and _shares(spec, "network"):
            _bind_from_host(mount, ["nosuid", "noexec", "nodev", "ro"])
        elif kind == "mqueue" and _shares(spec, "ipc"):
            if not host_mqueue:
                continue
            _bind_from_host(mount, ["nosuid", "noexec", "nodev"])
        kept.append(mount)
    spec["mounts"] = kept


def to_rootless(spec: dict, uids: IdMap, gids: IdMap, oom_score_adj: int, host_mqueue: bool = True) -> dict:
    """Adapt Docker's spec for a runtime in this user namespace (changes `spec` and returns it)."""
    linux = spec.setdefault("linux", {})
    linux.pop("resources", None)
    linux.pop("cgroupsPath", None)
    _narrow_ping_group_range(linux.get("sysctl") or {}, gids)
    process = spec.get("process", {})
    if process.get("oomScoreAdj") is not None and process["oomScoreAdj"] < oom_score_adj:
        process["oomScoreAdj"] = oom_score_adj
    _fix_mounts(spec, uids, gids, host_mqueue)
    return spec


def to_rootless_here(spec: dict) -> dict:
    """to_rootless with this process's own id maps and OOM score."""
    return to_rootless(spec, read_id_map("/proc/self/uid_map"), read_id_map("/proc/self/gid_map"),
                       current_oom_score_adj(), host_mqueue=os.path.isdir(MQUEUE))
