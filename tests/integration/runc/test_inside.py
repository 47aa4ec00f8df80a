"""Real containers under whale-runc, looked at from inside (pid 1, hostname, network, mounts,
capabilities, rlimits, user, devices, seccomp, sysctls) and from outside (cgroup limits, a pids limit
stopping a fork loop, a read-only rootfs, masked paths)."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
import time

from corelib.runc import seccomp
from corelib.runc.capabilities import NUMBERS
from tests.integration.runc.conftest import (
    assert_nothing_left,
    cgroup_value,
    make_spec,
    new_id,
    run_in_pty,
    started,
    write_config,
)


def run(whale, bundle_dir, spec: dict, *flags: str) -> tuple[int, str, str]:
    write_config(bundle_dir, spec)
    cid = new_id()
    result = whale("run", *flags, "--bundle", str(bundle_dir), cid, check=False, timeout=60)
    assert_nothing_left(cid, whale, bundle_dir)
    return result.returncode, result.stdout, result.stderr


def sh(script: str, **changes) -> dict:
    return make_spec(["sh", "-c", script], **changes)


def status_field(text: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(name + ":"))


def test_pid_one_hostname_and_only_loopback(whale, bundle):
    b = bundle()
    spec = sh("echo $$; hostname; cat /proc/sys/kernel/domainname; ls /sys/class/net; "
              "cat /sys/class/net/lo/flags; tail -n +3 /proc/net/dev | cut -d: -f1",
              hostname="wb-box", domainname="wb.example")
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert out.split() == ["1", "wb-box", "wb.example", "lo", "0x9", "lo"]  # 0x9: IFF_UP | IFF_LOOPBACK


def test_namespaces_differ_from_the_hosts(whale, bundle):
    b = bundle()
    code, out, _ = run(whale, b, sh("for n in pid net ipc uts mnt user cgroup; do readlink /proc/self/ns/$n; done"))
    inside = out.split()
    host = [os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "net", "ipc", "uts", "mnt", "user", "cgroup")]
    assert code == 0
    assert [a != b for a, b in zip(inside, host, strict=True)] == [True, True, True, True, True, False, False]


def test_mounts_seen_from_inside(whale, bundle, workdir):
    b = bundle()
    shared = workdir / "shared"
    shared.mkdir()
    (shared / "file").write_text("from the host\n")
    spec = sh("cat /proc/self/mounts; cat /data/file; touch /data/new && echo WROTE || echo REFUSED; "
              "touch /scratch/x && echo TMPFS-OK")
    spec["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(shared), "options": ["rbind", "ro", "nosuid", "nodev"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1777"]},
    ]
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    mounts = {fields[1]: fields for fields in (line.split() for line in out.splitlines()) if len(fields) == 6}
    assert mounts["/"][2] == "ext4" or mounts["/"][0] != "proc"
    assert mounts["/proc"][2] == "proc"
    assert mounts["/dev"][2] == "tmpfs" and "size=65536k" in mounts["/dev"][3]
    assert mounts["/dev/pts"][2] == "devpts" and "newinstance" not in mounts["/dev/pts"][3]
    assert mounts["/dev/shm"][2] == "tmpfs" and "noexec" in mounts["/dev/shm"][3]
    assert mounts["/dev/mqueue"][2] == "mqueue"
    assert mounts["/sys"][2] == "sysfs" and mounts["/sys"][3].startswith("ro,")
    assert mounts["/sys/fs/cgroup"][2] == "tmpfs"
    assert mounts["/sys/fs/cgroup/pids"][2] == "cgroup" and mounts["/sys/fs/cgroup/pids"][3].startswith("ro,")
    assert mounts["/data"][3].startswith("ro,") and "nosuid" in mounts["/data"][3] and "nodev" in mounts["/data"][3]
    assert mounts["/scratch"][2] == "tmpfs" and "size=1024k" in mounts["/scratch"][3]
    assert "from the host" in out and "REFUSED" in out and "TMPFS-OK" in out
    assert not (shared / "new").exists()


def test_capability_sets_in_proc_status(whale, bundle):
    b = bundle()
    spec = sh("cat /proc/self/status")
    spec["process"]["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_CHOWN"],
        "ambient": ["CAP_CHOWN"],
    }
    spec["process"]["noNewPrivileges"] = True
    spec["process"]["user"] = {"uid": 1000, "gid": 1000}
    code, out, err = run(whale, b, spec)
    assert code == 0, err

    def mask(*names: str) -> str:
        return f"{sum(1 << NUMBERS[n] for n in names):016x}"

    # a non-root execve keeps only the ambient set in permitted and effective; bounding stays as set
    assert status_field(out, "CapBnd") == mask("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN")
    assert status_field(out, "CapInh") == mask("CAP_CHOWN")
    assert status_field(out, "CapAmb") == mask("CAP_CHOWN")
    assert status_field(out, "CapPrm") == mask("CAP_CHOWN")
    assert status_field(out, "CapEff") == mask("CAP_CHOWN")
    assert status_field(out, "NoNewPrivs") == "1"
    assert status_field(out, "Uid").split() == ["1000"] * 4


def test_capabilities_of_root_without_ambient(whale, bundle):
    """uid 0: execve gives root the permitted set back (pP' = pI | bounding-limited full set)."""
    b = bundle()
    spec = sh("cat /proc/self/status")
    caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
    spec["process"]["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    want = f"{sum(1 << NUMBERS[n] for n in caps):016x}"
    assert [status_field(out, f) for f in ("CapBnd", "CapPrm", "CapEff")] == [want] * 3
    assert status_field(out, "CapAmb") == "0" * 16


def test_rlimits_oom_score_and_umask(whale, bundle):
    b = bundle()
    spec = sh("ulimit -n; ulimit -Hn; ulimit -u; cat /proc/self/oom_score_adj; umask")
    spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                                  {"type": "RLIMIT_NPROC", "soft": 77, "hard": 77}]
    spec["process"]["oomScoreAdj"] = 500
    spec["process"]["user"]["umask"] = 0o027
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert out.split() == ["321", "654", "77", "500", "0027"]


def test_user_groups_home_and_env(whale, bundle):
    b = bundle()
    spec = sh("id; echo $HOME; echo $GREETING; pwd")
    spec["process"]["user"] = {"uid": 65534, "gid": 100, "additionalGids": [10, 29]}
    spec["process"]["env"].append("GREETING=hello there")
    spec["process"]["cwd"] = "/tmp/work"
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert out.splitlines() == ["uid=65534(nobody) gid=100(users) groups=10(wheel),29(audio)", "/home",
                                "hello there", "/tmp/work"]


def test_readonly_rootfs_refuses_writes(whale, bundle):
    b = bundle()
    spec = sh("touch /newfile 2>&1; touch /dev/shm/ok && echo SHM-OK")
    spec["root"]["readonly"] = True
    code, out, _ = run(whale, b, spec)
    assert code == 0
    assert "Read-only file system" in out and "SHM-OK" in out
    assert not (b / "rootfs/newfile").exists()


def test_masked_and_readonly_paths(whale, bundle):
    b = bundle()
    (b / "rootfs/etc/secret").write_text("top secret\n")
    (b / "rootfs/etc/secrets.d").mkdir()
    (b / "rootfs/etc/secrets.d/key").write_text("key\n")
    spec = sh("cat /etc/secret | wc -c; ls /etc/secrets.d | wc -l; cat /proc/timer_list | wc -c; "
              "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo WROTE || echo RO; "
              "touch /etc/secrets.d/new 2>/dev/null && echo WROTE || echo RO; grep -c secret /proc/self/mounts")
    spec["linux"]["maskedPaths"] += ["/etc/secret", "/etc/secrets.d", "/no/such/path"]
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert out.split() == ["0", "0", "0", "RO", "RO", "2"]


def test_devices_created_and_guarded_by_the_device_cgroup(whale, bundle):
    b = bundle()
    spec = sh("ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx /dev/fd /dev/wb; "
              "head -c 4 /dev/zero | wc -c; mknod /dev/blk b 7 0 && echo MKNOD-OK; "
              "head -c 1 /dev/blk 2>&1; head -c 1 /dev/wb 2>&1 | wc -c")
    spec["linux"]["devices"] = [{"path": "/dev/wb", "type": "c", "major": 1, "minor": 7, "fileMode": 0o644,
                                 "uid": 1, "gid": 2}]
    spec["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 7,
                                                  "access": "r"})
    for kind in ("bounding", "effective", "permitted"):
        spec["process"]["capabilities"][kind].append("CAP_MKNOD")
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("crw-rw-rw-") and line.endswith("/dev/null") and " 1,   3 " in line for line in lines)
    assert any(line.startswith("crw-r--r--") and " 1 daemon   bin " in line and line.endswith("/dev/wb")
               for line in lines), out
    assert any(line.endswith("/dev/ptmx -> pts/ptmx") for line in lines)
    assert any(line.endswith("/dev/fd -> /proc/self/fd") for line in lines)
    assert "4" in lines and "MKNOD-OK" in lines
    assert any("Operation not permitted" in line for line in lines)  # b 7:0 is not allowed to be read
    assert lines[-1] == "1"  # the rule added for c 1:7 lets it be read


def test_cgroup_limits_set_from_outside(whale, bundle):
    b = bundle()
    resources = {"memory": {"limit": 48 << 20, "reservation": 32 << 20, "swap": 96 << 20},
                 "cpu": {"shares": 256, "quota": 20000, "period": 100000, "cpus": "0"},
                 "pids": {"limit": 64}}
    spec = make_spec(["sleep", "100"])
    spec["linux"]["resources"].update(resources)
    write_config(b, spec)
    with started(whale, b) as cid:
        assert cgroup_value(cid, "memory", "memory.limit_in_bytes") == str(48 << 20)
        assert cgroup_value(cid, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
        assert cgroup_value(cid, "memory", "memory.memsw.limit_in_bytes") == str(96 << 20)
        assert cgroup_value(cid, "cpu", "cpu.shares") == "256"
        assert cgroup_value(cid, "cpu", "cpu.cfs_quota_us") == "20000"
        assert cgroup_value(cid, "cpu", "cpu.cfs_period_us") == "100000"
        assert cgroup_value(cid, "cpuset", "cpuset.cpus") == "0"
        assert cgroup_value(cid, "pids", "pids.max") == "64"
        assert str(whale.state(cid)["pid"]) in cgroup_value(cid, "pids", "cgroup.procs").split()


def test_pids_limit_stops_a_fork_loop(whale, bundle):
    b = bundle()
    # The subshell forks sleeps until the kernel refuses (busybox sh then gives up on that subshell).
    spec = sh("(n=0; while [ $n -lt 40 ]; do sleep 30 & n=$((n+1)); done) 2>/tmp/errors; "
              "grep -c \"can't fork\" /tmp/errors; sleep 100")
    spec["linux"]["resources"]["pids"] = {"limit": 12}
    write_config(b, spec)
    out = b / "out"
    with open(out, "w") as f, started(whale, b, stdout=f) as cid:
        deadline = time.monotonic() + 20
        while not out.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.read_text().split() == ["1"]
        assert int(cgroup_value(cid, "pids", "pids.current")) <= 12
        listing = whale("ps", cid, "-o", "pid,args").stdout
        assert listing.count("sleep 30") == 10  # shell + subshell + 10 sleeps = the limit of 12


def test_seccomp_profile_blocks_syscalls(whale, bundle):
    b = bundle()
    spec = sh("mkdir /tmp/d 2>&1; echo mkdir=$?; uname -s; ls / > /dev/null && echo LS-OK")
    spec["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        ],
    }
    cached = seccomp.cache_path(spec["linux"]["seccomp"])
    with contextlib.suppress(FileNotFoundError):
        os.unlink(cached)
    for source in ("compiled by libseccomp", "loaded from the cache"):
        code, out, err = run(whale, b, spec)
        assert code == 0, f"{source}: {err}"
        assert "Operation not permitted" in out and "mkdir=1" in out and "LS-OK" in out, source
        assert "Linux" not in out, source
        assert not (b / "rootfs/tmp/d").exists()
        assert os.path.getsize(cached) % 8 == 0  # struct sock_filter[], as libseccomp exported it


def test_sysctls_are_written_inside(whale, bundle):
    b = bundle()
    spec = sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni")
    spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
    spec["linux"]["readonlyPaths"] = []
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert out.split() == ["1", "1234"]
    with open("/proc/sys/kernel/shmmni") as f:
        assert f.read().strip() != "1234"


def test_user_namespace_maps_ids(whale, public_bundle):
    b = public_bundle()
    os.chown(b / "rootfs/tmp", 100000, 100000)
    spec = sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /tmp/mine; stat -c %u /tmp/mine")
    spec["linux"]["namespaces"].append({"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert out.split() == ["0", "100000", "65536", "0", "100000", "65536", "0", "0"]
    assert os.stat(b / "rootfs/tmp/mine").st_uid == 100000


def test_cgroup_namespace_hides_the_path(whale, bundle):
    b = bundle()
    spec = sh("grep pids /proc/self/cgroup")
    spec["linux"]["namespaces"].append({"type": "cgroup"})
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert out.strip().endswith(":pids:/")


def test_joining_namespaces_by_path(whale, bundle, rootfs_copy):
    b = bundle()
    with started(whale, b) as first:
        init = whale.state(first)["pid"]
        spec = sh("readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname")
        spec["linux"]["namespaces"] = [
            {"type": "network", "path": f"/proc/{init}/ns/net"}, {"type": "uts", "path": f"/proc/{init}/ns/uts"},
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}]
        del spec["hostname"]
        code, out, err = run(whale, b, spec)
        assert code == 0, err
        assert out.split() == [os.readlink(f"/proc/{init}/ns/net"), os.readlink(f"/proc/{init}/ns/uts"), "runc"]


def test_no_pivot_and_no_new_keyring(whale, bundle):
    b = bundle()
    code, out, err = run(whale, b, sh("echo $$; cat /proc/self/mountinfo | head -1"), "--no-pivot",
                         "--no-new-keyring")
    assert code == 0, err
    assert out.split()[0] == "1"


def test_session_keyring_is_the_containers(whale, bundle):
    b = bundle()
    spec = sh("cat /proc/keys")
    spec["linux"]["maskedPaths"] = []
    code, out, err = run(whale, b, spec)
    assert code == 0, err
    assert "keyring   _ses.wbr-" in out, out


def test_terminal_master_goes_over_the_console_socket(whale, bundle, workdir):
    b = bundle()
    spec = sh("tty; test -t 0 && echo STDIN-IS-A-TTY; stty size")
    spec["process"]["terminal"] = True
    spec["process"]["consoleSize"] = {"height": 33, "width": 101}
    write_config(b, spec)
    path = str(workdir / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    received: dict = {}

    def accept() -> None:
        conn, _ = listener.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        received["name"], received["fd"] = msg, fds[0]
        conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    cid = new_id()
    whale("create", "--bundle", str(b), "--console-socket", path, cid)
    thread.join(10)
    master = received["fd"]
    assert received["name"] == b"/dev/ptmx"
    assert stat.S_ISCHR(os.fstat(master).st_mode)
    whale("start", cid)
    output = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the last slave fd closes
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    listener.close()
    lines = output.decode().replace("\r", "").split("\n")
    assert lines[0] == "/dev/console" or lines[0].startswith("/dev/pts/")
    assert "STDIN-IS-A-TTY" in lines and "33 101" in lines
    whale("delete", "--force", cid)


def test_terminal_without_console_socket_is_refused_for_create(whale, bundle):
    b = bundle()
    spec = make_spec(["sh"])
    spec["process"]["terminal"] = True
    write_config(b, spec)
    cid = new_id()
    result = whale("create", "--bundle", str(b), cid, check=False)
    assert result.returncode == 1
    assert whale.log_lines()[-1]["msg"] == ("runc create failed: cannot allocate tty if runc will detach without "
                                            "setting console socket")
    assert_nothing_left(cid, whale, b)


def test_run_and_exec_with_a_terminal_in_the_foreground(whale, bundle):
    """No console socket: whale-runc keeps the pty master and copies it to and from its own terminal."""
    b = bundle()
    spec = sh("tty; test -t 0 && echo IN-IS-TTY; read line; echo got:$line; exit 4")
    spec["process"]["terminal"] = True
    write_config(b, spec)
    cid = new_id()
    code, out = run_in_pty(whale.argv("run", "--bundle", str(b), cid), stdin_text=b"hello\n")
    assert code == 4, out
    assert "/dev/pts/0" in out and "IN-IS-TTY" in out and "got:hello" in out
    assert_nothing_left(cid, whale, b)
    write_config(b, make_spec(["sleep", "100"]))
    with started(whale, b) as cid:
        code, out = run_in_pty(whale.argv("exec", "-t", cid, "sh", "-c", "tty; exit 3"))
        assert code == 3 and "/dev/pts/" in out, out
