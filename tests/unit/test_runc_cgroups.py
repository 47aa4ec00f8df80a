"""cgroup v2 limits against a directory tree shaped like a unified hierarchy (this machine's
controllers are all v1; the real v2 hierarchy is used in tests/integration/runc/test_cgroups_v2.py),
and the device rules as v1 lines and as eBPF instructions."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from corelib.runc.cgroups.devices import Rule, bpf_program, rules_from_spec, v1_rules
from corelib.runc.cgroups.v2 import Manager, cpu_weight, io_weight, swap_max
from corelib.runc.errors import RuncError
from corelib.runc.spec import DEFAULT_DEVICES

INTERFACE = ("cgroup.procs", "cgroup.freeze", "cgroup.events", "memory.max", "memory.swap.max", "memory.low",
             "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
             "hugetlb.2MB.max", "memory.oom.group")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """/sys/fs/cgroup as a v2 kernel shows it, with the container's cgroup already made (the kernel
    fills a new directory with its interface files; a plain directory cannot)."""
    root = tmp_path / "cgroup"
    (root / "machine/ctr").mkdir(parents=True)
    for d in (root, root / "machine"):
        (d / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
        (d / "cgroup.subtree_control").write_text("")
    for name in INTERFACE:
        (root / "machine/ctr" / name).write_text("")
    return root


def manager(tree: Path) -> Manager:
    return Manager.for_path(str(tree), "/machine/ctr", rootless=False, explicit=True)


def test_path_and_controllers_enabled_down_the_tree(tree):
    m = manager(tree)
    assert m.path == str(tree / "machine/ctr")
    m.apply(4242)
    assert (tree / "machine/ctr/cgroup.procs").read_text() == "4242"
    assert (tree / "cgroup.subtree_control").read_text() == "+cpuset +cpu +io +memory +hugetlb +pids"
    assert (tree / "machine/cgroup.subtree_control").read_text() == "+cpuset +cpu +io +memory +hugetlb +pids"


def test_limits_written_in_v2_terms(tree):
    m = manager(tree)
    m.set({"memory": {"limit": 256 << 20, "swap": 512 << 20, "reservation": 128 << 20},
           "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
           "pids": {"limit": 99},
           "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
           "hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}],
           "unified": {"memory.oom.group": "1"}})
    read = {name: (tree / "machine/ctr" / name).read_text() for name in INTERFACE}
    assert read["memory.max"] == str(256 << 20)
    assert read["memory.swap.max"] == str(256 << 20)  # memory+swap 512M minus memory 256M
    assert read["memory.low"] == str(128 << 20)
    assert read["cpu.weight"] == "39"
    assert read["cpu.max"] == "50000 100000"
    assert (read["cpuset.cpus"], read["cpuset.mems"]) == ("0-1", "0")
    assert read["pids.max"] == "99"
    assert read["io.weight"] == "4950"  # 1 + (500 - 10) * 9999 // 990
    assert read["io.max"] == "8:0 rbps=1048576"
    assert read["hugetlb.2MB.max"] == str(2 << 20)
    assert read["memory.oom.group"] == "1"


def test_unlimited_values(tree):
    m = manager(tree)
    m.set({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1, "period": 50000}})
    d = tree / "machine/ctr"
    assert (d / "memory.max").read_text() == "max" and (d / "memory.swap.max").read_text() == "max"
    assert (d / "pids.max").read_text() == "max" and (d / "cpu.max").read_text() == "max 50000"


def test_conversions():
    assert cpu_weight(2) == 1 and cpu_weight(262144) == 10000 and cpu_weight(1024) == 39
    assert io_weight(10) == 1 and io_weight(1000) == 10000
    assert swap_max(0, 100) is None and swap_max(-1, 100) == "max" and swap_max(300, 100) == 200
    with pytest.raises(RuncError, match="without memory limit"):
        swap_max(300, 0)
    with pytest.raises(RuncError, match="should be greater than memory limit"):
        swap_max(100, 300)


def test_missing_controller_is_a_clear_error(tree):
    (tree / "machine/ctr/pids.max").unlink()
    with pytest.raises(RuncError, match="controller pids is not enabled"):
        manager(tree).set({"pids": {"limit": 5}})
    with pytest.raises(RuncError, match="must be a file name"):
        manager(tree).set({"unified": {"../escape": "1"}})


def test_freeze_waits_for_the_kernel_to_say_frozen(tree):
    m = manager(tree)
    (tree / "machine/ctr/cgroup.events").write_text("populated 1\nfrozen 1\n")
    m.freeze(True)
    assert m.frozen()


def test_device_rules_spec_then_runc_defaults():
    rules = rules_from_spec({"devices": [{"allow": False, "access": "rwm"},
                                         {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}]},
                            list(DEFAULT_DEVICES))
    lines = v1_rules(rules)
    assert lines[:2] == [("devices.deny", "a"), ("devices.allow", "c 10:229 rw")]
    assert ("devices.allow", "c *:* m") in lines and ("devices.allow", "c 1:3 rwm") in lines
    assert ("devices.allow", "c 136:* rwm") in lines and len(lines) == 2 + len(DEFAULT_DEVICES)


def decode(program: bytes) -> list[tuple[int, int, int, int, int]]:
    out = []
    for i in range(0, len(program), 8):
        code, regs, off, imm = struct.unpack_from("<BBhi", program, i)
        out.append((code, regs & 0xF, regs >> 4, off, imm))
    return out


def test_bpf_program_checks_rules_last_first_and_ends_reachable():
    insns = decode(bpf_program([Rule("a", -1, -1, "rwm", False), Rule("c", 1, 3, "rwm", True)]))
    assert insns[0] == (0x61, 2, 1, 0, 0)  # r2 = ctx->access_type
    # the allow rule for c 1:3 comes first (it was last), with type, major and minor tests
    body = insns[6:]
    assert body[0] == (0x55, 2, 0, 4, 2)  # if type != char skip the block (4 instructions ahead)
    assert body[1][1] == 4 and body[1][4] == 1 and body[2][1] == 5 and body[2][4] == 3
    assert body[3] == (0xB7, 0, 0, 0, 1) and body[4][0] == 0x95  # return 1
    # then the deny-all: unconditional, and the program ends there (nothing unreachable after it)
    assert body[5:] == [(0xB7, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)]


def test_bpf_program_default_allows_when_nothing_matches():
    insns = decode(bpf_program([Rule("b", 8, -1, "w", False)]))
    assert insns[-2:] == [(0xB7, 0, 0, 0, 1), (0x95, 0, 0, 0, 0)]
    # a deny rule for "w" matches when the request has the write bit: skip when (access & 4) == 0
    assert (0x54, 1, 0, 0, 4) in insns and any(i[0] == 0x15 and i[1] == 1 for i in insns)
