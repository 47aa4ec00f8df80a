"""The same bundles under the real runc and under whale-runc: the same observations from inside,
the same exit status, the same `state`/`list`/`ps` JSON shape, the same `spec`, the same errors."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.integration.runc.conftest import make_spec, new_id, reap_all, write_config

OBSERVE = r"""
echo pid=$$; hostname; id
grep -E '^(Cap|Uid|Gid|Groups|NoNewPrivs|Seccomp|Umask)' /proc/self/status
ulimit -a; umask; env | sort; cat /proc/self/oom_score_adj
stat -c '%A %u %g %t %T %N' /dev/* /dev/pts/* /dev/shm /dev/mqueue 2>&1
cut -d' ' -f4- /proc/self/mountinfo | sed -E 's/(shared|master|propagate_from):[0-9]+/\1:N/g'
cat /proc/self/cgroup; ls /sys/class/net; cat /sys/class/net/lo/flags
touch /probe 2>&1 && echo rootfs-rw; rm -f /probe
wc -c < /proc/timer_list; ls /proc/acpi 2>&1 | wc -l
echo x 2>&1 > /proc/sys/kernel/domainname; cat /proc/sys/kernel/domainname
for n in user cgroup; do [ "$(readlink /proc/self/ns/$n)" = "$(readlink /proc/1/ns/$n)" ]; echo ns-$n=$?; done
ls -a /tmp
"""


def observe_spec(**process) -> dict:
    spec = make_spec(["sh", "-c", OBSERVE])
    spec["process"].update(process)
    return spec


def variant(name: str) -> dict:
    spec = observe_spec()
    linux = spec["linux"]
    if name == "user":
        spec["process"].update(user={"uid": 1000, "gid": 1000, "additionalGids": [10, 100], "umask": 0o077},
                               rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                                        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
                               noNewPrivileges=False, oomScoreAdj=123)
        spec["process"]["capabilities"] = {
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"],
            "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_CHOWN"], "ambient": ["CAP_CHOWN", "CAP_NO_SUCH_CAP"]}
    elif name == "root-caps":
        spec["process"]["capabilities"] = {k: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN", "CAP_MKNOD"]
                                           for k in ("bounding", "effective", "permitted", "inheritable")}
        spec["process"]["noNewPrivileges"] = False
    elif name == "readonly":
        spec["root"]["readonly"] = True
        spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["ro", "nosuid", "size=2m"]})
        linux["maskedPaths"].append("/etc/hostname")
        linux["readonlyPaths"].append("/etc")
    elif name == "seccomp":
        linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [{"names": ["mkdir", "mkdirat", "sethostname"], "action": "SCMP_ACT_ERRNO"}]}
        spec["process"]["noNewPrivileges"] = False
    elif name == "host-pid-cgroupns":
        linux["namespaces"] = [{"type": t} for t in ("network", "ipc", "uts", "mount", "cgroup")]
        spec["process"]["args"][-1] = OBSERVE.replace("echo pid=$$; ", "")
    elif name == "devices":
        linux["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600},
                            {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o600}]
        linux["resources"]["devices"].append({"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"})
    elif name == "sysctl-propagation":
        linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
        linux["rootfsPropagation"] = "rslave"
        spec["mounts"].append({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"]})
    return spec


VARIANTS = ["default", "user", "root-caps", "readonly", "seccomp", "host-pid-cgroupns", "devices",
            "sysctl-propagation"]


def run_both(runc, whale, bundle_dir, spec: dict) -> list[tuple[int, str, str]]:
    write_config(bundle_dir, spec)
    cid = new_id("diff")  # the same id for both, one after the other: cgroup paths read the same
    results = []
    for runtime in (runc, whale):
        r = runtime("run", "--bundle", str(bundle_dir), cid, check=False, timeout=60)
        results.append((r.returncode, r.stdout, r.stderr))
        reap_all()
    return results


@pytest.mark.parametrize("name", VARIANTS)
def test_same_observations_inside(runc, whale, bundle, name):
    b = bundle()
    (real, ours) = run_both(runc, whale, b, variant(name))
    assert real[0] == 0, real[2]
    assert ours[1].splitlines() == real[1].splitlines()
    assert ours[0] == real[0]


def test_same_observations_in_a_user_namespace(runc, whale, public_bundle):
    b = public_bundle()
    os.chown(b / "rootfs/tmp", 100000, 100000)
    spec = observe_spec()
    spec["linux"]["namespaces"].append({"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    (real, ours) = run_both(runc, whale, b, spec)
    assert real[0] == 0, real[2]
    assert ours[1].splitlines() == real[1].splitlines()


@pytest.mark.parametrize("script,code", [("exit 3", 3), ("sh -c 'kill -9 $$'; exit $?", 137), ("true", 0)])
def test_same_exit_status(runc, whale, bundle, script, code):
    b = bundle()
    results = run_both(runc, whale, b, make_spec(["sh", "-c", script]))
    assert [r[0] for r in results] == [code, code]


def states_through_lifecycle(runtime, bundle_dir) -> list[dict]:
    cid = new_id("shape")
    runtime("create", "--bundle", str(bundle_dir), cid)
    seen = [runtime.state(cid)]
    seen.append(json.loads(runtime("list", "--format", "json").stdout)[0])
    seen.append({"ps": json.loads(runtime("ps", "--format", "json", cid).stdout)})
    runtime("start", cid)
    seen.append(runtime.state(cid))
    runtime("pause", cid)
    seen.append(runtime.state(cid))
    runtime("resume", cid)
    runtime("kill", cid, "KILL")
    deadline = time.monotonic() + 20
    while runtime.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        reap_all()
        time.sleep(0.02)
    seen.append(runtime.state(cid))
    runtime("delete", cid)
    return seen


def shape(value: object) -> object:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def test_same_state_json_shape(runc, whale, bundle):
    b = bundle(annotations={"a": "b"})
    real = states_through_lifecycle(runc, b)
    ours = states_through_lifecycle(whale, b)
    assert [shape(s) for s in ours] == [shape(s) for s in real]
    assert [s.get("status") for s in ours] == [s.get("status") for s in real] == \
        ["created", "created", None, "running", "paused", "stopped"]
    assert [s.get("pid") for s in ours][-1] == 0
    for key in ("ociVersion", "bundle", "rootfs", "annotations", "owner"):
        assert [s.get(key) for s in ours] == [s.get(key) for s in real], key
    assert len(ours[2]["ps"]) == len(real[2]["ps"]) == 1


@pytest.mark.parametrize("flags", [[], ["--rootless"]])
def test_spec_is_byte_identical(runc, whale, workdir, flags):
    outputs = []
    for runtime, name in ((runc, "real"), (whale, "ours")):
        directory = workdir / name
        directory.mkdir()
        runtime("spec", "--bundle", str(directory), *flags)
        outputs.append((directory / "config.json").read_bytes())
    assert outputs[0] == outputs[1]
    again = whale("spec", "--bundle", str(workdir / "ours"), check=False)
    assert again.returncode == 1 and whale.log_lines()[-1]["msg"] == "File config.json exists. Remove it first"


def test_features_have_the_same_shape(runc, whale):
    real = json.loads(runc("features").stdout)
    ours = json.loads(whale("features").stdout)
    assert set(ours) == set(real) and set(ours["linux"]) == set(real["linux"])
    for key in ("hooks", "mountOptions"):
        assert ours[key] == real[key]
    for key in ("namespaces", "capabilities"):
        assert ours["linux"][key] == real["linux"][key]
    assert ours["linux"]["seccomp"] == real["linux"]["seccomp"]


def error_of(runtime, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runtime(*args, check=False, input=stdin)
    return result.returncode, runtime.log_lines()[-1]["msg"] if runtime.log_lines() else ""


def test_same_errors(runc, whale, rootfs_copy):
    b = rootfs_copy.parent
    results: dict[str, list] = {"real": [], "ours": []}

    def both(*args: str) -> None:
        for runtime, key in ((runc, "real"), (whale, "ours")):
            results[key].append(error_of(runtime, *args))
            reap_all()

    both("create", "--bundle", str(b), "d1")  # no config.json
    spec = make_spec(["true"])
    spec["root"]["path"] = "missing"
    write_config(b, spec)
    both("create", "--bundle", str(b), "d2")
    spec = make_spec(["true"])
    spec["linux"]["namespaces"].append({"type": "bogus"})
    write_config(b, spec)
    both("create", "--bundle", str(b), "d3")
    for args in (["/nonexistent"], ["nonexistent"], ["/etc"]):
        write_config(b, make_spec(args))
        both("create", "--bundle", str(b), "d4")
    write_config(b, make_spec(["sleep", "100"]))
    spec = make_spec(["true"])
    spec["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]  # drops the default rule
    write_config(b, spec)
    both("create", "--bundle", str(b), "d7")
    write_config(b, make_spec(["sleep", "100"]))
    for runtime in (runc, whale):
        runtime("create", "--bundle", str(b), "d5")
    both("create", "--bundle", str(b), "d5")  # duplicate id
    both("delete", "d6")
    both("state", "d6")
    both("kill", "d5", "NOSUCHSIGNAL")
    both("resume", "d5")
    both("exec", "d5")
    for runtime in (runc, whale):
        runtime("start", "d5")
    both("start", "d5")
    both("delete", "d5")
    both("create", "--bundle", str(b), "bad/id")
    both("create", "--bundle", str(b), "")
    for runtime in (runc, whale):
        runtime("delete", "--force", "d5")
    assert results["ours"] == results["real"]
