"""Device access rules: the spec's `linux.resources.devices` plus runc's defaults, written as
devices.allow/devices.deny lines for cgroup v1, or compiled into an eBPF program
(BPF_PROG_TYPE_CGROUP_DEVICE) attached to the cgroup for v2, as runc does.

Rules apply in order, a later one overriding an earlier one; the program therefore checks them
last-first and the first match decides. With no match, access is allowed (a v1 cgroup's default)."""

from __future__ import annotations

import os
import struct

WILDCARD = -1
ACCESS_BITS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE
TYPE_BITS = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, _CHAR


class Rule:
    __slots__ = ("type", "major", "minor", "access", "allow")

    def __init__(self, type: str, major: int, minor: int, access: str, allow: bool):
        self.type, self.major, self.minor, self.access, self.allow = type, major, minor, access, allow

    def line(self) -> str:
        if self.type == "a" and self.major == WILDCARD and self.minor == WILDCARD and set(self.access) >= set("rwm"):
            return "a"
        major = "*" if self.major == WILDCARD else str(self.major)
        minor = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


def rules_from_spec(resources: dict | None, defaults: list[tuple[str, str, int, int, str]]) -> list[Rule]:
    """The spec's rules, then runc's default allowed devices appended (users cannot turn those off)."""
    rules = []
    for d in (resources or {}).get("devices") or []:
        major = d.get("major")
        minor = d.get("minor")
        rules.append(Rule(d.get("type") or "a", WILDCARD if major is None else major,
                          WILDCARD if minor is None else minor, d["access"], bool(d.get("allow"))))
    rules += [Rule(t, major, minor, access, True) for _, t, major, minor, access in defaults]
    return rules


def v1_rules(rules: list[Rule]) -> list[tuple[str, str]]:
    return [("devices.allow" if r.allow else "devices.deny", r.line()) for r in rules]


# eBPF encoding: opcode, dst/src registers, 16-bit offset, 32-bit immediate.
_LDX_W = 0x61     # dst = *(u32 *)(src + off)
_ALU_AND_K = 0x54
_ALU_RSH_K = 0x74
_ALU_MOV_X = 0xBC
_MOV64_K = 0xB7
_JEQ_K = 0x15
_JNE_K = 0x55
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _rule_block(rule: Rule) -> list[bytes]:
    """Instructions that return rule.allow when the request (r2 type, r3 access, r4 major, r5 minor)
    matches; each test jumps past the block on a mismatch."""
    steps: list[tuple] = []  # ("insn", bytes) or ("skip-if", opcode, register, immediate)
    if rule.type in TYPE_BITS:
        steps.append(("skip-if", _JNE_K, 2, TYPE_BITS[rule.type]))
    mask = sum(ACCESS_BITS[c] for c in set(rule.access) if c in ACCESS_BITS)
    if mask != 7:
        # allow: every requested bit must be granted; deny: any requested bit that is denied matches.
        steps.append(("insn", _insn(_ALU_MOV_X, dst=1, src=3)))
        steps.append(("insn", _insn(_ALU_AND_K, dst=1, imm=(~mask & 7) if rule.allow else mask)))
        steps.append(("skip-if", _JNE_K if rule.allow else _JEQ_K, 1, 0))
    if rule.major != WILDCARD:
        steps.append(("skip-if", _JNE_K, 4, rule.major))
    if rule.minor != WILDCARD:
        steps.append(("skip-if", _JNE_K, 5, rule.minor))
    end = len(steps) + 2
    out = [step[1] if step[0] == "insn" else _insn(step[1], dst=step[2], off=end - i - 1, imm=step[3])
           for i, step in enumerate(steps)]
    return out + [_insn(_MOV64_K, dst=0, imm=1 if rule.allow else 0), _insn(_EXIT)]


def bpf_program(rules: list[Rule]) -> bytes:
    prologue = [
        _insn(_LDX_W, dst=2, src=1, off=0),   # r2 = access_type
        _insn(_ALU_AND_K, dst=2, imm=0xFFFF),  # r2 = device type
        _insn(_LDX_W, dst=3, src=1, off=0),
        _insn(_ALU_RSH_K, dst=3, imm=16),      # r3 = requested access
        _insn(_LDX_W, dst=4, src=1, off=4),   # r4 = major
        _insn(_LDX_W, dst=5, src=1, off=8),   # r5 = minor
    ]
    body: list[bytes] = []
    for rule in reversed(rules):
        block = _rule_block(rule)
        body += block
        if len(block) == 2:  # matches everything: what follows is unreachable, which the verifier refuses
            return b"".join(prologue + body)
    return b"".join(prologue + body + [_insn(_MOV64_K, dst=0, imm=1), _insn(_EXIT)])


BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2


def attach_program(cgroup_dir: str, rules: list[Rule]) -> None:
    """Load the rules as a cgroup device program and attach it to `cgroup_dir` (kernel >= 4.15)."""
    from corelib.runc import linux

    code = linux.string_buffer(bpf_program(rules))
    license = linux.string_buffer(b"Apache\0")
    log = linux.string_buffer(b"\0" * 4096)
    count = len(code.raw) // 8  # type: ignore[attr-defined]
    load = struct.pack("=IIQQIIQII16s", BPF_PROG_TYPE_CGROUP_DEVICE, count, linux.address_of(code),
                       linux.address_of(license), 1, 4096, linux.address_of(log), 0, 0, b"whale_dev")
    try:
        prog = linux.bpf(BPF_PROG_LOAD, load)
    except OSError as e:
        verifier = log.raw.split(b"\0", 1)[0].decode(errors="replace")  # type: ignore[attr-defined]
        raise OSError(e.errno, f"bpf prog load: {e.strerror}{': ' + verifier if verifier else ''}") from None
    cgroup = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        linux.bpf(BPF_PROG_ATTACH, struct.pack("=IIIII", cgroup, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0))
    finally:
        os.close(cgroup)
        os.close(prog)
