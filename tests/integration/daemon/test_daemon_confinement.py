"""Docker's default confinement, checked from inside containers the real runc ran from whaled's
spec: capabilities, the seccomp filter, masked and read-only paths, the device cgroup, hostname and
the bind-mounted network files; and what --privileged, --cap-add/--cap-drop, --security-opt,
--read-only, --user, -v, --tmpfs and --network change."""

from __future__ import annotations

import json
import os

import pytest

from corelib.oci import caps as oci_caps

DOCKER_DEFAULT_CAPS = 0x00000000A80425FB  # CapEff of a container under the real Docker


def status_field(whaled, name: str, *args: str) -> str:
    out = whaled.docker("run", "--rm", "--network", "none", *args, "busybox", "grep", f"^{name}:", "/proc/self/status")
    return out.stdout.split()[1]


def sh(whaled, script: str, *args: str, check: bool = False):  # noqa: ANN201
    return whaled.docker("run", "--rm", "--network", "none", *args, "busybox", "sh", "-c", script, check=check)


def test_default_capabilities_and_seccomp(whaled):
    assert int(status_field(whaled, "CapEff"), 16) == DOCKER_DEFAULT_CAPS
    assert int(status_field(whaled, "CapBnd"), 16) == DOCKER_DEFAULT_CAPS
    assert status_field(whaled, "Seccomp") == "2"
    assert status_field(whaled, "NoNewPrivs") == "0"
    assert status_field(whaled, "NoNewPrivs", "--security-opt", "no-new-privileges") == "1"


@pytest.mark.parametrize(("script", "error"), [
    ("unshare -n true", "Operation not permitted"),  # namespaces need CAP_SYS_ADMIN (seccomp and caps)
    ("mount -t tmpfs none /tmp", "permission denied"),
    ("mknod /tmp/sda b 8 0 && head -c1 /tmp/sda", "Operation not permitted"),  # the device cgroup
    ("echo x > /proc/sys/kernel/domainname", "Read-only file system"),
    ("echo 3 > /proc/sys/vm/drop_caches", "Read-only file system"),
])
def test_what_a_container_may_not_do(whaled, script, error):
    result = sh(whaled, script)
    assert result.returncode != 0 and error in result.stderr


def test_seccomp_follows_capabilities_and_profiles(whaled, tmp_path):
    """CAP_SYS_ADMIN opens mount(2) in the default profile; a profile of our own (the CLI reads the file
    and sends its content) denies what it lists."""
    assert sh(whaled, "mount -t tmpfs none /tmp && echo mounted", "--cap-add", "SYS_ADMIN").stdout == "mounted\n"
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    denied = sh(whaled, "mkdir /tmp/x", "--security-opt", f"seccomp={profile}")
    assert denied.returncode != 0 and "Operation not permitted" in denied.stderr
    assert status_field(whaled, "Seccomp", "--security-opt", "seccomp=unconfined") == "0"


def test_masked_paths_and_devices(whaled):
    masked = sh(whaled, "wc -c < /proc/keys; stat -c %t:%T /proc/keys; ls /sys/firmware | wc -l")
    assert masked.stdout.split() == ["0", "1:3", "0"]  # /dev/null bound over files, a tmpfs over directories
    devices = sh(whaled, "ls /dev | sort | tr '\\n' ' '", check=True).stdout.split()
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"):
        assert node in devices
    assert "sda" not in devices and "mem" not in devices


def test_privileged(whaled):
    expected = sum(1 << oci_caps.ALL_CAPABILITIES.index(c) for c in oci_caps.available())
    assert int(status_field(whaled, "CapEff", "--privileged"), 16) == expected
    assert status_field(whaled, "Seccomp", "--privileged") == "0"
    host_devices = sorted(d for d in os.listdir("/dev") if d in ("mem", "kmsg", "loop0", "tty1"))
    inside = sh(whaled, "ls /dev", "--privileged", check=True).stdout.split()
    assert set(host_devices) <= set(inside)
    assert sh(whaled, "mount -t tmpfs none /tmp && echo ok", "--privileged").stdout == "ok\n"


def test_capability_add_and_drop(whaled):
    assert int(status_field(whaled, "CapEff", "--cap-drop", "ALL", "--cap-add", "NET_RAW"), 16) == 1 << 13
    assert int(status_field(whaled, "CapEff", "--cap-drop", "chown"), 16) == DOCKER_DEFAULT_CAPS & ~1
    unknown = whaled.docker("run", "--rm", "--cap-add", "FLY", "busybox", "true", check=False)
    assert unknown.returncode == 125 and 'unknown capability: "CAP_FLY"' in unknown.stderr


def test_identity_files_and_user(whaled):
    out = sh(whaled, 'hostname; cat /etc/hostname; grep -c -E " /etc/(hosts|hostname|resolv.conf) " '
                     "/proc/self/mountinfo; id", "--name", "ident1", check=True).stdout.splitlines()
    assert out[0] == out[1] and len(out[0]) == 12
    assert out[2] == "3"
    assert out[3] == "uid=0(root) gid=0(root) groups=10(wheel)"  # as under Docker: root's groups from /etc/group
    assert sh(whaled, "id -u; id -g", "--user", "nobody", check=True).stdout.split() == ["65534", "65534"]
    assert sh(whaled, "id -u; id -g", "--user", "1234:5678", check=True).stdout.split() == ["1234", "5678"]
    bad = whaled.docker("run", "--rm", "--user", "ghost", "busybox", "true", check=False)
    assert bad.returncode != 0 and "unable to find user ghost" in bad.stderr


def test_read_only_rootfs_volumes_and_tmpfs(whaled, tmp_path):
    (tmp_path / "in.txt").write_text("from the host\n")
    out = sh(whaled, "touch /x 2>&1; cat /data/in.txt; echo back > /rw/out.txt; touch /data/ro 2>&1; "
                     "echo t > /scratch/t && grep ' /scratch ' /proc/mounts",
             "--read-only", "-v", f"{tmp_path}:/data:ro", "-v", f"{tmp_path}/rw:/rw", "--tmpfs", "/scratch:size=1m")
    lines = out.stdout.splitlines()
    assert "Read-only file system" in lines[0] and lines[1] == "from the host"
    assert "Read-only file system" in lines[2]
    assert lines[3].startswith("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec") and "size=1024k" in lines[3]
    assert (tmp_path / "rw" / "out.txt").read_text() == "back\n"  # -v created the missing host directory


def test_network_modes(whaled):
    def interfaces(network: str) -> list[str]:
        return whaled.docker("run", "--rm", "--network", network, "busybox", "ls", "/sys/class/net").stdout.split()

    assert interfaces("bridge") == interfaces("default") == interfaces("none") == ["lo"]
    assert sorted(interfaces("host")) == sorted(os.listdir("/sys/class/net"))
    whaled.docker("run", "-d", "--name", "netowner", "--network", "none", "busybox", "sleep", "100")
    try:
        owner_ns = whaled.docker("exec", "netowner", "readlink", "/proc/self/ns/net").stdout
        joined = whaled.docker("run", "--rm", "--network", "container:netowner", "busybox", "readlink",
                               "/proc/self/ns/net").stdout
        assert joined == owner_ns
    finally:
        whaled.docker("rm", "-f", "netowner")
    missing = whaled.docker("run", "--rm", "--network", "nosuchnet", "busybox", "true", check=False)
    assert missing.returncode == 125 and "network nosuchnet not found" in missing.stderr
    warned = whaled.docker("create", "busybox", "true")
    assert "private network namespace with only a loopback" in warned.stderr
    whaled.docker("rm", warned.stdout.strip())
