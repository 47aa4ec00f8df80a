"""Docker's default confinement as whaled writes it into the runtime spec: capabilities, the
seccomp profile, masked and read-only paths, devices, namespaces, mounts, the user."""

from __future__ import annotations

import itertools
import types

import pytest

from corelib import errdefs
from corelib.daemon.config import Config
from corelib.daemon.container.container import Container
from corelib.daemon.create import adapt_container_settings
from corelib.daemon.network import NetworkMixin
from corelib.daemon.oci_linux import OCIMixin, create_environment, get_user, parse_device_cgroup_rule
from corelib.oci import caps, seccomp
from corelib.oci.defaults import default_linux_spec

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
               "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
               "CAP_AUDIT_WRITE"]


def test_capability_tweaks():
    assert caps.tweak_capabilities(caps.DEFAULT_CAPABILITIES, None, None, False) == DOCKER_CAPS
    assert caps.tweak_capabilities(caps.DEFAULT_CAPABILITIES, ["sys_admin"], ["CAP_NET_RAW", "kill"], False) == \
        [c for c in DOCKER_CAPS if c not in ("CAP_NET_RAW", "CAP_KILL")] + ["CAP_SYS_ADMIN"]
    assert caps.tweak_capabilities(caps.DEFAULT_CAPABILITIES, ["chown"], ["ALL"], False) == ["CAP_CHOWN"]
    everything = caps.tweak_capabilities(caps.DEFAULT_CAPABILITIES, ["ALL"], ["MKNOD"], False)
    assert "CAP_SYS_ADMIN" in everything and "CAP_MKNOD" not in everything
    assert caps.tweak_capabilities(caps.DEFAULT_CAPABILITIES, None, None, True) == caps.available()
    assert set(caps.available()) <= set(caps.ALL_CAPABILITIES) and "CAP_SYS_ADMIN" in caps.available()
    assert len(caps.ALL_CAPABILITIES) == 38 and caps.ALL_CAPABILITIES[-1] == "CAP_AUDIT_READ"
    with pytest.raises(errdefs.InvalidArgument, match='unknown capability: "CAP_FLY"'):
        caps.normalize(["fly"])


def _names(profile: dict) -> set[str]:
    return {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for name in rule["names"]}


def test_default_seccomp_profile_denies_what_dockers_denies():
    profile = seccomp.setup_seccomp(seccomp.default_profile(), DOCKER_CAPS, arch="amd64", kernel="6.1.0")
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _names(profile)
    for denied in ("mount", "umount2", "reboot", "kexec_load", "init_module", "finit_module", "keyctl", "add_key",
                   "request_key", "unshare", "setns", "swapon", "pivot_root", "bpf", "ptrace_peek"):
        assert denied not in allowed, denied
    for needed in ("read", "write", "execve", "clone", "arch_prctl", "chroot", "ptrace", "personality"):
        assert needed in allowed, needed
    clone = next(r for r in profile["syscalls"] if r["names"] == ["clone"])
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    clone3 = next(r for r in profile["syscalls"] if r["names"] == ["clone3"])
    assert clone3 == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}


def test_capabilities_open_their_system_calls():
    profile = seccomp.setup_seccomp(seccomp.default_profile(), [*DOCKER_CAPS, "CAP_SYS_ADMIN", "CAP_SYS_BOOT"],
                                    arch="amd64", kernel="6.1.0")
    allowed = _names(profile)
    assert {"mount", "unshare", "setns", "reboot"} <= allowed
    assert not any(r["names"] == ["clone3"] and r["action"] != "SCMP_ACT_ALLOW" for r in profile["syscalls"])
    old_kernel = seccomp.setup_seccomp(seccomp.default_profile(), DOCKER_CAPS, arch="amd64", kernel="4.4.0")
    assert not any(r["names"] == ["ptrace"] for r in old_kernel["syscalls"])
    arm = seccomp.setup_seccomp(seccomp.default_profile(), DOCKER_CAPS, arch="arm64", kernel="6.1.0")
    assert "arch_prctl" not in _names(arm) and "set_tls" in _names(arm)


def test_custom_profiles():
    profile = seccomp.load_profile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir",'
                                   '"action":"SCMP_ACT_ERRNO"}]}')
    assert seccomp.setup_seccomp(profile, DOCKER_CAPS) == {
        "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    with pytest.raises(errdefs.InvalidArgument, match="Decoding seccomp profile failed"):
        seccomp.load_profile("{nope")
    with pytest.raises(errdefs.InvalidArgument, match="use either 'architectures' or 'archMap'"):
        seccomp.setup_seccomp({"defaultAction": "x", "architectures": ["a"], "archMap": [{}]}, [])


def test_default_spec():
    spec = default_linux_spec()
    assert spec["process"]["capabilities"]["bounding"] == DOCKER_CAPS
    assert [m["destination"] for m in spec["mounts"]] == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup",
                                                          "/dev/mqueue", "/dev/shm"]
    assert spec["linux"]["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"} in \
        spec["linux"]["resources"]["devices"]
    assert "/proc/kcore" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]
    assert parse_device_cgroup_rule("c 1:3 mr") == {"allow": True, "type": "c", "major": 1, "minor": 3,
                                                     "access": "mr"}
    assert parse_device_cgroup_rule("a *:* rwm") == {"allow": True, "type": "a", "access": "rwm"}
    with pytest.raises(errdefs.InvalidArgument):
        parse_device_cgroup_rule("z 1:2 q")


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/home:/bin/false\n"
                                         "app:x:1000:1000::/app:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nwheel:x:10:root\nusers:x:100:app\napp:x:1000:\n")
    return tmp_path


def test_users_from_the_containers_files(rootfs):
    assert get_user(rootfs, "") == {"uid": 0, "gid": 0, "additionalGids": [10]}
    assert get_user(rootfs, "app") == {"uid": 1000, "gid": 1000, "additionalGids": [100]}
    assert get_user(rootfs, "1000:10") == {"uid": 1000, "gid": 10}
    assert get_user(rootfs, "4242") == {"uid": 4242, "gid": 0}
    assert get_user(rootfs, "nobody", ["wheel", "7"]) == {"uid": 65534, "gid": 65534, "additionalGids": [10, 7]}
    with pytest.raises(errdefs.WhaleError, match="unable to find user ghost: no matching entries in passwd file"):
        get_user(rootfs, "ghost")
    with pytest.raises(errdefs.WhaleError, match="unable to find group ghosts: no matching entries in group file"):
        get_user(rootfs, "app:ghosts")


_made = itertools.count()


class SpecMaker(NetworkMixin, OCIMixin):
    def __init__(self, others: dict[str, Container] | None = None):
        self.config = types.SimpleNamespace(init_path="/usr/bin/docker-init", cgroup_parent="/wbtest",
                                            default_shm_size=64 << 20, rootless=False)
        self.others = others or {}

    def GetContainer(self, name: str) -> Container:
        return self.others[name]


def make_container(rootfs, config: dict | None = None, host: dict | None = None) -> Container:
    container = Container(ID="c" * 64, root=rootfs / f"container{next(_made)}")
    container.rootfs.mkdir(parents=True)
    (container.rootfs / "etc").symlink_to(rootfs / "etc")
    container.Config = {"Hostname": "cccccccccccc", "Env": ["FOO=bar"], "Tty": False, **(config or {})}
    container.Path, container.Args = "sh", ["-c", "true"]
    container.HostConfig = dict(host or {})
    adapt_container_settings(container.HostConfig, "runc", 64 << 20)
    container.ResolvConfPath = "/r/resolv.conf"
    container.HostnamePath = "/r/hostname"
    container.HostsPath = "/r/hosts"
    return container


def test_an_ordinary_container(rootfs):
    spec = SpecMaker().createSpec(make_container(rootfs))
    assert spec["process"]["args"] == ["sh", "-c", "true"]
    assert spec["process"]["env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "HOSTNAME=cccccccccccc", "FOO=bar"]
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [10]}
    assert spec["process"]["capabilities"]["bounding"] == DOCKER_CAPS
    assert spec["hostname"] == "cccccccccccc" and spec["linux"]["cgroupsPath"] == "/wbtest/" + "c" * 64
    assert {ns["type"] for ns in spec["linux"]["namespaces"]} == {"mount", "network", "uts", "pid", "ipc"}
    assert "keyctl" not in _names(spec["linux"]["seccomp"])
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert mounts["/etc/hosts"] == {"destination": "/etc/hosts", "type": "bind", "source": "/r/hosts",
                                    "options": ["rbind", "rprivate"]}
    assert "size=67108864" in mounts["/dev/shm"]["options"] and "ro" in mounts["/sys"]["options"]
    assert spec["linux"]["maskedPaths"][0] == "/proc/asound"


def test_privileged(rootfs):
    spec = SpecMaker().createSpec(make_container(rootfs, host={"Privileged": True}))
    assert spec["process"]["capabilities"]["bounding"] == caps.available()
    assert "seccomp" not in spec["linux"] and "maskedPaths" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in spec["linux"]["devices"])
    assert "ro" not in {m["destination"]: m for m in spec["mounts"]}["/sys"]["options"]


def test_security_options_and_limits(rootfs):
    container = make_container(rootfs, {"Tty": True, "User": "app", "WorkingDir": "/app"},
                               {"CapDrop": ["ALL"], "CapAdd": ["NET_BIND_SERVICE"], "ReadonlyRootfs": True,
                                "Memory": 64 << 20, "NanoCpus": 500_000_000, "PidsLimit": 10,
                                "Tmpfs": {"/run": "size=1m"}, "Binds": None, "Init": True,
                                "Ulimits": [{"Name": "nofile", "Hard": 10, "Soft": 5}],
                                "DeviceCgroupRules": ["c 42:* rmw"]})
    container.SeccompProfile = "unconfined"
    container.NoNewPrivileges = True
    spec = SpecMaker().createSpec(container)
    process = spec["process"]
    assert process["args"] == ["/sbin/docker-init", "--", "sh", "-c", "true"]
    assert process["terminal"] and "TERM=xterm" in process["env"] and process["cwd"] == "/app"
    assert process["user"]["uid"] == 1000 and process["noNewPrivileges"]
    assert process["capabilities"]["bounding"] == ["CAP_NET_BIND_SERVICE"]
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 5}]
    assert "seccomp" not in spec["linux"] and spec["root"]["readonly"]
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert resources["cpu"] == {"period": 100000, "quota": 50000} and resources["pids"] == {"limit": 10}
    assert resources["devices"][-1] == {"allow": True, "type": "c", "major": 42, "access": "rmw"}
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert mounts["/run"]["type"] == "tmpfs" and "size=1m" in mounts["/run"]["options"]
    assert "ro" not in mounts["/proc"]["options"] and "ro" not in mounts["/etc/hosts"]["options"]
    assert "ro" in mounts["/sys/fs/cgroup"]["options"] and "ro" not in mounts["/dev/pts"]["options"]


def test_host_and_container_namespaces(rootfs):
    other = make_container(rootfs)
    other.State.set_running(4242, "2026-11-29T20:20:54Z")
    maker = SpecMaker({"other": other})
    host = maker.createSpec(make_container(rootfs, host={"NetworkMode": "host", "PidMode": "host", "UTSMode": "host",
                                                         "IpcMode": "host"}))
    assert {ns["type"] for ns in host["linux"]["namespaces"]} == {"mount"}
    assert "hostname" not in host and "net.ipv4.ping_group_range" not in host["linux"].get("sysctl", {})
    joined = make_container(rootfs, host={"NetworkMode": "container:other", "PidMode": "container:other"})
    joined.NetworkSettings = {"SandboxKey": "/proc/4242/ns/net"}
    spec = maker.createSpec(joined)
    namespaces = {ns["type"]: ns for ns in spec["linux"]["namespaces"]}
    assert namespaces["network"]["path"] == "/proc/4242/ns/net" and namespaces["pid"]["path"] == "/proc/4242/ns/pid"


def test_environment_overrides_in_place():
    container = Container(ID="x", root=__import__("pathlib").Path("/tmp"))
    container.Config = {"Hostname": "h", "Tty": True, "Env": ["PATH=/bin", "TERM=dumb", "HOSTNAME", "X=1"]}
    assert create_environment(container) == ["PATH=/bin", "TERM=dumb", "X=1"]


def test_runtime_defaults_follow_the_containerd_in_use():
    assert Config(containerd="/run/containerd/containerd.sock").default_runtime == "runc"
    own = Config()
    assert own.default_runtime == "whale-runc" and own.runtimes["runc"].shim == "io.containerd.whale.v2"
