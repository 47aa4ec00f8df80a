"""config.json as runc reads it: loading and validation errors in runc's words, mount options,
namespaces, id mappings, the example spec."""

from __future__ import annotations

import json

import pytest

from corelib.runc import linux as L
from corelib.runc import spec as S
from corelib.runc.commands.spec import example, to_rootless
from corelib.runc.errors import RuncError


def write(tmp_path, spec) -> str:
    (tmp_path / "config.json").write_text(spec if isinstance(spec, str) else json.dumps(spec))
    return str(tmp_path)


def test_missing_and_malformed(tmp_path):
    with pytest.raises(RuncError, match="^JSON specification file config.json not found$"):
        S.load(str(tmp_path))
    with pytest.raises(RuncError, match="^invalid config.json: "):
        S.load(write(tmp_path, "{nope"))


@pytest.mark.parametrize("process,message", [
    (None, "process property must not be empty"),
    ({"cwd": "", "args": ["x"]}, "Cwd property must not be empty"),
    ({"cwd": "rel", "args": ["x"]}, "Cwd must be an absolute path"),
    ({"cwd": "/", "args": []}, "args must not be empty"),
])
def test_process_validation(tmp_path, process, message):
    spec = example()
    spec["process"] = process
    with pytest.raises(RuncError, match=f"^{message}$"):
        S.load(write(tmp_path, spec))


def test_namespaces_in_joining_order_and_errors():
    spec = {"linux": {"namespaces": [{"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"},
                                     {"type": "user"}, {"type": "pid"}]}}
    assert S.namespaces(spec) == [("user", ""), ("network", "/proc/1/ns/net"), ("pid", ""), ("mount", "")]
    with pytest.raises(RuncError, match='^namespace {"bogus" ""} does not exist$'):
        S.namespaces({"linux": {"namespaces": [{"type": "bogus"}]}})
    with pytest.raises(RuncError, match='^malformed spec file: duplicated ns {"pid" ""}$'):
        S.namespaces({"linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}})


def test_mount_options_become_flags_propagation_and_data():
    m = S.Mount({"destination": "/d", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "noexec", "nodev", "ro", "rshared", "size=1m", "mode=755", "rro", "rnoatime"]},
                "/bundle")
    assert m.flags == L.MS_NOSUID | L.MS_NOEXEC | L.MS_NODEV | L.MS_RDONLY
    assert m.propagation == [L.MS_SHARED | L.MS_REC]
    assert m.data == "size=1m,mode=755"
    assert m.rec_set == L.MOUNT_ATTR_RDONLY | L.MOUNT_ATTR_NOATIME and m.rec_clr == L.MOUNT_ATTR__ATIME
    bind = S.Mount({"destination": "/d", "type": "none", "source": "data", "options": ["rbind", "rw"]}, "/bundle")
    assert bind.type == "bind" and bind.source == "/bundle/data" and bind.flags == L.MS_BIND | L.MS_REC


def test_validation_in_runcs_words(tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    base = example()
    ns = S.namespaces(base)

    def check(spec, message, nslist=ns):
        with pytest.raises(RuncError, match=message):
            S.validate(spec, str(tmp_path), str(rootfs), nslist)

    with pytest.raises(RuncError, match="no such file or directory"):
        S.validate(base, str(tmp_path), str(tmp_path / "missing"), ns)
    (tmp_path / "link").symlink_to(rootfs)
    with pytest.raises(RuncError, match="^invalid rootfs: not an absolute path, or a symlink$"):
        S.validate(base, str(tmp_path), str(tmp_path / "link"), ns)
    check({**base, "hostname": "h"}, "^unable to set hostname without a private UTS namespace$",
          [n for n in ns if n[0] != "uts"])
    check(base, "^unable to restrict sys entries without a private MNT namespace$", [n for n in ns if n[0] != "mount"])
    spec = json.loads(json.dumps(base))
    spec["linux"]["sysctl"] = {"kernel.shmmax": "1"}
    check(spec, '^sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace$',
          [n for n in ns if n[0] != "ipc"])
    spec["linux"]["sysctl"] = {"net/ipv4/ip_forward": "1"}
    check(spec, '^sysctl "net.ipv4.ip_forward" not allowed in host network namespace$',
          [n for n in ns if n[0] != "network"])
    spec["linux"]["sysctl"] = {"vm.swappiness": "1"}
    check(spec, '^sysctl "vm.swappiness" is not in a separate kernel namespace$')
    spec = json.loads(json.dumps(base))
    spec["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS"}]
    check(spec, "^wrong rlimit value: RLIMIT_BOGUS$")
    spec = json.loads(json.dumps(base))
    spec["linux"]["resources"]["devices"] = [{"allow": True}]
    check(spec, "^device access at 0 field cannot be empty$")


def test_host_ids_from_mappings():
    maps = [{"containerID": 0, "hostID": 1000, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}]
    assert S.host_id(maps, 0) == 1000 and S.host_id(maps, 5) == 100004 and S.host_id(maps, 70000) is None


def test_rootless_example(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1234)
    monkeypatch.setattr("os.getegid", lambda: 99)
    spec = to_rootless(example())
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1234, "size": 1}]
    assert {"type": "network"} not in spec["linux"]["namespaces"] and {"type": "user"} in spec["linux"]["namespaces"]
    assert "resources" not in spec["linux"]
    assert not any(o.startswith("gid=") for m in spec["mounts"] for o in m.get("options", []))


@pytest.mark.parametrize("profile,message", [
    ({"defaultAction": "SCMP_ACT_NOPE"}, "string SCMP_ACT_NOPE is not a valid action for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]},
     "string SCMP_ARCH_Z80 is not a valid arch for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "op": "SCMP_CMP_ABOUT"}]}]},
     "string SCMP_CMP_ABOUT is not a valid operator for seccomp"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "SCMP_ACT_NOTIFY cannot be used as default action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]},
     "seccomp flags are not yet supported by runc"),
])
def test_seccomp_profiles_refused_in_runcs_words(profile, message):
    from corelib.runc import seccomp

    with pytest.raises(RuncError, match=f"^{message}$"):
        seccomp.validate(profile)


def test_seccomp_action_values():
    from corelib.runc.seccomp import action_value

    assert action_value("SCMP_ACT_ERRNO", None) == 0x00050001  # EPERM by default
    assert action_value("SCMP_ACT_ERRNO", 38) == 0x00050026
    assert action_value("SCMP_ACT_ALLOW", None) == 0x7FFF0000
