"""whaled's spec for a runtime in a user namespace (moby's specconv.ToRootless), and that it applies
only there."""

from __future__ import annotations

import pytest

from corelib.daemon.rootless import is_mapped, read_id_map, to_rootless
from corelib.runc.userns import running_in_user_ns
from tests.unit.test_oci_spec import SpecMaker, make_container

SINGLE = [(0, 1)]  # `unshare --map-root-user`: the user is root, and no other id exists


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\n")
    return tmp_path


def docker_spec(rootfs, **host) -> dict:
    return SpecMaker().createSpec(make_container(rootfs, host={"OomScoreAdj": -500, **host}))


def mounts(spec: dict) -> dict[str, dict]:
    return {m["destination"]: m for m in spec["mounts"]}


def test_as_root_of_the_initial_namespace_the_spec_is_dockers(rootfs):
    assert not running_in_user_ns()  # the tests run as real root
    spec = docker_spec(rootfs)
    assert spec["linux"]["cgroupsPath"] == "/wbtest/" + "c" * 64 and "resources" in spec["linux"]
    assert "gid=5" in mounts(spec)["/dev/pts"]["options"]
    assert spec["linux"]["sysctl"]["net.ipv4.ping_group_range"] == "0 2147483647"


def test_rootless_drops_cgroups_and_unmapped_ids(rootfs):
    spec = to_rootless(docker_spec(rootfs, PidsLimit=20, Memory=1 << 26), SINGLE, SINGLE, oom_score_adj=0)
    assert "cgroupsPath" not in spec["linux"] and "resources" not in spec["linux"]
    assert mounts(spec)["/dev/pts"]["options"] == ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    assert mounts(spec)["/proc"]["type"] == "proc" and mounts(spec)["/sys"]["type"] == "sysfs"  # own pid/net ns
    assert spec["process"]["oomScoreAdj"] == 0  # not below the daemon's own
    assert spec["linux"]["sysctl"]["net.ipv4.ping_group_range"] == "0 0"


def test_rootless_keeps_mapped_ids_and_a_higher_oom_score(rootfs):
    spec = docker_spec(rootfs, OomScoreAdj=300)
    spec["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                           "options": ["uid=1000", "gid=0"]})
    to_rootless(spec, [(0, 1), (1000, 10)], SINGLE, oom_score_adj=-100)
    assert mounts(spec)["/data"]["options"] == ["uid=1000", "gid=0"]
    assert mounts(spec)["/dev/pts"]["options"][-1] == "mode=0620"
    assert spec["process"]["oomScoreAdj"] == 300


def test_rootless_ping_group_range_within_the_mapped_gids(rootfs):
    spec = docker_spec(rootfs)
    to_rootless(spec, SINGLE, [(0, 1), (100, 65536)], oom_score_adj=0)
    assert spec["linux"]["sysctl"]["net.ipv4.ping_group_range"] == "0 65635"
    spec["linux"]["sysctl"]["net.ipv4.ping_group_range"] = "5 50"
    to_rootless(spec, SINGLE, SINGLE, oom_score_adj=0)
    assert "net.ipv4.ping_group_range" not in spec["linux"]["sysctl"]  # none of them mapped: left as the kernel's


def test_rootless_shared_pid_network_and_ipc_namespaces_bind_proc_sys_and_mqueue(rootfs):
    spec = to_rootless(docker_spec(rootfs, PidMode="host", NetworkMode="host", IpcMode="host"), SINGLE, SINGLE,
                       oom_score_adj=0)
    assert mounts(spec)["/proc"] == {"destination": "/proc", "type": "bind", "source": "/proc",
                                     "options": ["rbind", "nosuid", "noexec", "nodev"]}
    assert mounts(spec)["/sys"] == {"destination": "/sys", "type": "bind", "source": "/sys",
                                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    assert mounts(spec)["/dev/mqueue"] == {"destination": "/dev/mqueue", "type": "bind", "source": "/dev/mqueue",
                                           "options": ["rbind", "nosuid", "noexec", "nodev"]}
    no_mqueue = to_rootless(docker_spec(rootfs, IpcMode="host"), SINGLE, SINGLE, oom_score_adj=0, host_mqueue=False)
    assert "/dev/mqueue" not in mounts(no_mqueue) and "/dev/shm" in mounts(no_mqueue)


def test_createspec_adapts_only_when_the_daemon_is_rootless(rootfs):
    maker = SpecMaker()
    maker.config.rootless = True
    spec = maker.createSpec(make_container(rootfs))
    assert "cgroupsPath" not in spec["linux"] and "resources" not in spec["linux"]


def test_id_maps_as_the_kernel_writes_them(tmp_path):
    path = tmp_path / "uid_map"
    path.write_text("         0      65534          1\n      1000     100000      65536\n")
    ids = read_id_map(str(path))
    assert ids == [(0, 1), (1000, 65536)]
    assert is_mapped(0, ids) and is_mapped(66535, ids) and not is_mapped(1, ids) and not is_mapped(66536, ids)
