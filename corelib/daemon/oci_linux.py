"""The runtime spec of a container (moby's daemon/oci_linux.go createSpec): Docker's default spec
from corelib.oci, then the container's command, user, namespaces, capabilities, seccomp profile,
mounts, devices, cgroup and resources."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.mounts import MountPoint, tmpfs_points
from corelib.daemon.network import is_private, network_mode
from corelib.daemon.rootless import to_rootless_here
from corelib.oci import caps as oci_caps
from corelib.oci import seccomp as oci_seccomp
from corelib.oci.defaults import default_linux_spec

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH = "/sbin/docker-init"


# -- user ---------------------------------------------------------------------------------------

def _entries(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def get_user(rootfs: Path, user: str, group_add: list[str] | None = None) -> dict:
    """The OCI process user for Docker's `--user` (`name|uid[:group|gid]`), read from the container's
    own /etc/passwd and /etc/group, with the supplementary groups the user is a member of."""
    passwd = [e for e in _entries(rootfs / "etc/passwd") if len(e) >= 7]
    groups = [e for e in _entries(rootfs / "etc/group") if len(e) >= 4]
    user_part, _, group_part = (user or "0").partition(":")
    entry = next((e for e in passwd if e[0] == user_part or (user_part.isdigit() and e[2] == user_part)), None)
    if entry is None and not user_part.isdigit():
        raise errdefs.WhaleError(f"unable to find user {user_part}: no matching entries in passwd file")
    uid = int(user_part) if user_part.isdigit() else int(entry[2])
    gid = int(entry[3]) if entry is not None and entry[3].isdigit() else 0
    name = entry[0] if entry is not None else ""
    if group_part:
        found = next((g for g in groups if g[0] == group_part or (group_part.isdigit() and g[2] == group_part)), None)
        if found is None and not group_part.isdigit():
            raise errdefs.WhaleError(f"unable to find group {group_part}: no matching entries in group file")
        gid = int(group_part) if group_part.isdigit() else int(found[2])
    additional = []
    if not group_part and name:
        additional = [int(g[2]) for g in groups if g[2].isdigit() and name in g[3].split(",")]
    for extra in group_add or []:
        found = next((g for g in groups if g[0] == extra), None)
        if found is None and not extra.isdigit():
            raise errdefs.WhaleError(f"Unable to find group {extra}")
        additional.append(int(extra) if extra.isdigit() else int(found[2]))
    spec_user: dict = {"uid": uid, "gid": gid}
    if additional:
        spec_user["additionalGids"] = sorted(set(additional), key=additional.index)
    return spec_user


# -- devices ------------------------------------------------------------------------------------

def _device(path: str, in_container: str, permissions: str) -> tuple[dict, dict]:
    st = os.stat(path)
    kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else ""
    if not kind:
        raise errdefs.InvalidArgument(f"error gathering device information while adding custom device \"{path}\": "
                                      "not a device node")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    node = {"path": in_container, "type": kind, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(st.st_mode) | (stat.S_IFCHR if kind == "c" else stat.S_IFBLK),
            "uid": st.st_uid, "gid": st.st_gid}
    rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": permissions or "rwm"}
    return node, rule


def host_devices() -> list[dict]:
    """Every device node under /dev (what a privileged container gets), like runc's HostDevices."""
    nodes = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if path == "/dev/console":
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                nodes.append(_device(path, path, "rwm")[0])
    return nodes


def parse_device_cgroup_rule(rule: str) -> dict:
    """`c 1:3 mr`, `b *:* rwm`, `a *:* rwm` (--device-cgroup-rule)."""
    parts = rule.split()
    if len(parts) != 3 or parts[0] not in ("a", "b", "c") or ":" not in parts[1] \
            or not set(parts[2]) <= set("rwm"):
        raise errdefs.InvalidArgument(f"invalid device cgroup format '{rule}'")
    major, _, minor = parts[1].partition(":")
    parsed: dict = {"allow": True, "type": parts[0]}
    for key, value in (("major", major), ("minor", minor)):
        if value != "*":
            if not value.isdigit():
                raise errdefs.InvalidArgument(f"invalid device cgroup format '{rule}'")
            parsed[key] = int(value)
    parsed["access"] = parts[2]
    return parsed


# -- the spec -----------------------------------------------------------------------------------

class OCIMixin:
    def createSpec(self, container: Container) -> dict:
        s = default_linux_spec()
        self._with_common_options(container, s)
        self._with_cgroups(container, s)
        self._with_resources(container, s)
        self._with_devices(container, s)
        s["process"]["user"] = get_user(container.rootfs, container.Config.get("User", ""),
                                        container.HostConfig.get("GroupAdd"))
        self._with_rlimits(container, s)
        self._with_namespaces(container, s)
        self._with_capabilities(container, s)
        self._with_seccomp(container, s)
        self._with_mounts(container, s)
        s["process"]["oomScoreAdj"] = container.HostConfig.get("OomScoreAdj", 0)
        if container.NoNewPrivileges:
            s["process"]["noNewPrivileges"] = True
        host = container.HostConfig
        if host.get("Privileged"):
            s["linux"].pop("maskedPaths", None)
            s["linux"].pop("readonlyPaths", None)
        else:
            if host.get("MaskedPaths") is not None:
                s["linux"]["maskedPaths"] = list(host["MaskedPaths"])
            if host.get("ReadonlyPaths") is not None:
                s["linux"]["readonlyPaths"] = list(host["ReadonlyPaths"])
        if self.config.rootless:
            to_rootless_here(s)
        return s

    def _with_common_options(self, container: Container, s: dict) -> None:
        config, host = container.Config, container.HostConfig
        s["root"] = {"path": str(container.rootfs), "readonly": bool(host.get("ReadonlyRootfs"))}
        args = [container.Path, *container.Args]
        if host.get("Init") and host.get("PidMode", "") == "":
            if not self.config.init_path:
                raise errdefs.WhaleError('exec: "docker-init": executable file not found in $PATH')
            args = [INIT_PATH, "--", *args]
            s["mounts"].append({"destination": INIT_PATH, "type": "bind", "source": self.config.init_path,
                                "options": ["bind", "ro"]})
        process = s["process"]
        process["args"] = args
        process["cwd"] = config.get("WorkingDir") or "/"
        process["env"] = create_environment(container)
        process["terminal"] = bool(config.get("Tty"))
        if process["terminal"]:
            width, height = (host.get("ConsoleSize") or [0, 0])[:2] if host.get("ConsoleSize") else (0, 0)
            if width and height:
                process["consoleSize"] = {"height": height, "width": width}
        s["hostname"] = config.get("Hostname", "")
        if config.get("Domainname"):
            s["domainname"] = config["Domainname"]
        sysctl = s["linux"].setdefault("sysctl", {})
        if is_private(network_mode(host)):
            for key, value in (("net.ipv4.ping_group_range", "0 2147483647"),
                               ("net.ipv4.ip_unprivileged_port_start", "0")):
                if os.path.exists("/proc/sys/" + key.replace(".", "/")):
                    sysctl[key] = value
        sysctl.update(host.get("Sysctls") or {})

    def _with_cgroups(self, container: Container, s: dict) -> None:
        parent = container.HostConfig.get("CgroupParent") or self.config.cgroup_parent
        s["linux"]["cgroupsPath"] = os.path.join(parent, container.ID)

    def _with_resources(self, container: Container, s: dict) -> None:
        r = container.HostConfig
        resources = s["linux"]["resources"]
        memory = {k: v for k, v in (("limit", r.get("Memory")), ("reservation", r.get("MemoryReservation")),
                                    ("swap", r.get("MemorySwap")), ("kernel", r.get("KernelMemory")),
                                    ("kernelTCP", r.get("KernelMemoryTCP"))) if v}
        if r.get("MemorySwappiness") is not None and r["MemorySwappiness"] >= 0:
            memory["swappiness"] = r["MemorySwappiness"]
        if r.get("OomKillDisable"):
            memory["disableOOMKiller"] = True
        if memory:
            resources["memory"] = memory
        cpu: dict = {}
        if r.get("CpuShares"):
            cpu["shares"] = r["CpuShares"]
        if r.get("NanoCpus"):
            cpu["period"] = 100000
            cpu["quota"] = r["NanoCpus"] * 100000 // 1_000_000_000
        if r.get("CpuPeriod"):
            cpu["period"] = r["CpuPeriod"]
        if r.get("CpuQuota"):
            cpu["quota"] = r["CpuQuota"]
        for key, name in (("CpusetCpus", "cpus"), ("CpusetMems", "mems"), ("CpuRealtimePeriod", "realtimePeriod"),
                          ("CpuRealtimeRuntime", "realtimeRuntime")):
            if r.get(key):
                cpu[name] = r[key]
        if cpu:
            resources["cpu"] = cpu
        if r.get("PidsLimit"):
            resources["pids"] = {"limit": r["PidsLimit"]}
        if r.get("BlkioWeight"):
            resources["blockIO"] = {"weight": r["BlkioWeight"]}

    def _with_devices(self, container: Container, s: dict) -> None:
        host = container.HostConfig
        rules = s["linux"]["resources"]["devices"]
        if host.get("Privileged"):
            s["linux"]["devices"] = host_devices()
            s["linux"]["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
            return
        for mapping in host.get("Devices") or []:
            try:
                node, rule = _device(mapping["PathOnHost"], mapping.get("PathInContainer") or mapping["PathOnHost"],
                                     mapping.get("CgroupPermissions") or "rwm")
            except FileNotFoundError:
                raise errdefs.InvalidArgument(f"error gathering device information while adding custom device "
                                              f"\"{mapping['PathOnHost']}\": no such file or directory") from None
            s["linux"]["devices"].append(node)
            rules.append(rule)
        rules.extend(parse_device_cgroup_rule(r) for r in host.get("DeviceCgroupRules") or [])

    def _with_rlimits(self, container: Container, s: dict) -> None:
        limits = container.HostConfig.get("Ulimits") or []
        if limits:
            s["process"]["rlimits"] = [{"type": "RLIMIT_" + u["Name"].upper(), "hard": u["Hard"], "soft": u["Soft"]}
                                       for u in limits]

    def _with_namespaces(self, container: Container, s: dict) -> None:
        host = container.HostConfig
        namespaces = {ns["type"]: ns for ns in s["linux"]["namespaces"]}
        net = self.network_namespace_path(container)
        if net is None:
            namespaces.pop("network", None)
        elif net:
            namespaces["network"] = {"type": "network", "path": net}
        for kind, key in (("ipc", "IpcMode"), ("pid", "PidMode"), ("uts", "UTSMode")):
            mode = host.get(key) or ""
            if mode == "host":
                namespaces.pop(kind, None)
                if kind == "uts":
                    s.pop("hostname", None)
            elif mode.startswith("container:"):
                other = self.GetContainer(mode.split(":", 1)[1])
                if not other.is_running():
                    raise errdefs.Conflict(f"cannot join {kind.upper()} of a non running container: {other.ID}")
                kind_path = {"ipc": "ipc", "pid": "pid", "uts": "uts"}[kind]
                namespaces[kind] = {"type": kind, "path": f"/proc/{other.State.Pid}/ns/{kind_path}"}
        if host.get("CgroupnsMode") == "private":
            namespaces["cgroup"] = {"type": "cgroup"}
        s["linux"]["namespaces"] = list(namespaces.values())

    def _with_capabilities(self, container: Container, s: dict) -> None:
        host = container.HostConfig
        caps = oci_caps.tweak_capabilities(oci_caps.DEFAULT_CAPABILITIES, host.get("CapAdd"), host.get("CapDrop"),
                                           bool(host.get("Privileged")))
        s["process"]["capabilities"] = {"bounding": caps, "effective": list(caps), "permitted": list(caps)}

    def _with_seccomp(self, container: Container, s: dict) -> None:
        profile = container.SeccompProfile
        if container.HostConfig.get("Privileged") or profile == "unconfined":
            return
        loaded = oci_seccomp.load_profile(profile) if profile and profile != "builtin" \
            else oci_seccomp.default_profile()
        seccomp = oci_seccomp.setup_seccomp(loaded, s["process"]["capabilities"]["bounding"])
        if seccomp is not None:
            s["linux"]["seccomp"] = seccomp

    def _with_mounts(self, container: Container, s: dict) -> None:
        host = container.HostConfig
        user: list[dict] = [MountPoint(**m).spec_mount() for m in container.MountPoints.values()]
        user += [p.spec_mount() for p in tmpfs_points(host)]
        destinations = {m["destination"] for m in user}
        for name, path in (("/etc/resolv.conf", container.ResolvConfPath), ("/etc/hostname", container.HostnamePath),
                           ("/etc/hosts", container.HostsPath)):
            if path and name not in destinations:
                user.append({"destination": name, "type": "bind", "source": path, "options": ["rbind", "rprivate"]})
        user.sort(key=lambda m: len(Path(m["destination"]).parts))
        mounts = [m for m in s["mounts"] if m["destination"] not in destinations
                  and not (m["destination"].startswith("/dev/") and "/dev" in destinations)]
        for m in mounts:
            if m["destination"] == "/dev/shm":
                m["options"] = [*m["options"], f"size={host.get('ShmSize') or self.config.default_shm_size}"]
        if host.get("IpcMode") == "host":
            mounts = [m for m in mounts if m["destination"] != "/dev/shm"]
            mounts.append({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                           "options": ["rbind", "rprivate"]})
        if host.get("ReadonlyRootfs"):
            for m in mounts:
                if m["destination"] not in ("/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev") \
                        and "ro" not in m["options"]:
                    m["options"] = [*m["options"], "ro"]
        if host.get("Privileged"):
            for m in mounts:
                if m["destination"] == "/sys" or m["type"] == "cgroup":
                    m["options"] = [o for o in m["options"] if o != "ro"]
        for m in user:
            propagation = next((o for o in m["options"] if o in ("shared", "rshared", "slave", "rslave")), "")
            if propagation:
                s["linux"]["rootfsPropagation"] = "rshared" if "shared" in propagation else "rslave"
        s["mounts"] = mounts + user


def create_environment(container: Container) -> list[str]:
    """moby's CreateDaemonEnvironment: PATH, HOSTNAME and (with a TTY) TERM, each replaced in place by
    the container's own value; the container's other variables follow; `NAME` alone unsets."""
    config = container.Config
    env = [DEFAULT_PATH, f"HOSTNAME={config.get('Hostname', '')}"] + (["TERM=xterm"] if config.get("Tty") else [])
    position = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
    for value in config.get("Env") or []:
        key, eq, _ = value.partition("=")
        if key in position:
            env[position[key]] = value if eq else ""
        elif eq:
            env.append(value)
    return [e for e in env if e]
