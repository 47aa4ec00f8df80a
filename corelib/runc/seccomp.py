"""`linux.seccomp` through libseccomp (libseccomp.so.2, with ctypes). Rules follow runc: redundant ones
(same action as the default) are skipped, unknown syscall names are ignored, and conditions on one
argument index each become a rule of their own.

libseccomp compiles the profile into a BPF program, which the init loads with seccomp(2). Docker's
default profile costs ~15 ms of ctypes calls to compile, for every container: so the program is kept
in /run/whale-runc-seccomp (or $XDG_RUNTIME_DIR/whale-runc-seccomp), named by a hash of the profile and
the kernel, and the next container with the same profile loads it as it is (libseccomp's export of
exactly what seccomp_load would load); the newest CACHE_ENTRIES are kept. Not under --root: that holds
containers only."""

import os

from corelib.runc.errors import RuncError, ignored, strerror

_CACHE_FORMAT = "1"
CACHE_ENTRIES = 64  # programs kept (a few KB each): the oldest go when a new one comes

ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000, "SCMP_ACT_NOTIFY": 0x7FC00000,
}
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
             "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
ARCHES = {
    "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_MIPS": "mips", "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPSEL64": "mipsel64",
    "SCMP_ARCH_MIPSEL64N32": "mipsel64n32", "SCMP_ARCH_PPC": "ppc", "SCMP_ARCH_PPC64": "ppc64",
    "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_S390X": "s390x",
}
SCMP_FLTATR_CTL_NNP = 3
EPERM = 1


def validate(profile: dict | None) -> None:
    """What runc's specconv refuses before anything runs."""
    if not profile or (not profile.get("defaultAction") and not profile.get("syscalls")):
        return
    if profile.get("flags"):
        raise RuncError("seccomp flags are not yet supported by runc")
    for arch in profile.get("architectures") or []:
        if arch not in ARCHES:
            raise RuncError(f"string {arch} is not a valid arch for seccomp")
    if profile.get("defaultAction") not in ACTIONS:
        raise RuncError(f"string {profile.get('defaultAction')} is not a valid action for seccomp")
    if profile["defaultAction"] == "SCMP_ACT_NOTIFY":
        raise RuncError("SCMP_ACT_NOTIFY cannot be used as default action")
    if any(call.get("action") == "SCMP_ACT_NOTIFY" for call in profile.get("syscalls") or []):
        raise RuncError("seccomp notify is not supported by whale-runc (no seccomp agent over listenerPath)")
    for call in profile.get("syscalls") or []:
        if call.get("action") not in ACTIONS:
            raise RuncError(f"string {call.get('action')} is not a valid action for seccomp")
        for arg in call.get("args") or []:
            if arg.get("op") not in OPERATORS:
                raise RuncError(f"string {arg.get('op')} is not a valid operator for seccomp")


def action_value(name: str, errno_ret: int | None) -> int:
    value = ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


def cache_dir() -> str:
    if os.geteuid() == 0:
        return "/run/whale-runc-seccomp"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(runtime_dir, "whale-runc-seccomp") if runtime_dir else ""


def cache_path(profile: dict) -> str:
    """Where the program of `profile` is kept ("" where nothing is): named by the profile and the kernel."""
    directory = cache_dir()
    if not directory:
        return ""
    from corelib import jsonlite as json
    from corelib.sha256 import sha256

    key = sha256(b"\0".join([json.dumps(profile).encode(), os.uname().release.encode(), os.uname().machine.encode(),
                             _CACHE_FORMAT.encode()])).hexdigest()
    return os.path.join(directory, f"{key}.bpf")


def program(profile: dict, logger=None) -> bytes:
    """The BPF program of `profile`: from the cache, else compiled (and kept there)."""
    path = cache_path(profile)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        pass
    code = compile_program(profile, logger)
    if not path:
        return code
    try:
        os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(code)
        os.rename(tmp, path)
        evict_oldest(os.path.dirname(path), CACHE_ENTRIES)
    except OSError:  # a read-only or foreign root: compile each time
        pass
    return code


def evict_oldest(directory: str, keep: int) -> None:
    entries = sorted(os.scandir(directory), key=lambda e: e.stat().st_mtime_ns)
    for entry in entries[:max(0, len(entries) - keep)]:
        with ignored(FileNotFoundError):  # another whale-runc's eviction
            os.unlink(entry.path)


def compile_program(profile: dict, logger=None) -> bytes:
    """Build the filter with libseccomp and export its BPF program (struct sock_filter[])."""
    lib = library()
    default = action_value(profile["defaultAction"], profile.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise RuncError("error creating filter: seccomp_init failed")
    try:
        for arch in profile.get("architectures") or []:
            ret = lib.seccomp_arch_add(ctx, lib.seccomp_arch_resolve_name(ARCHES[arch].encode()))
            if ret < 0 and ret != -17:  # EEXIST: the native architecture is always there
                raise RuncError(f"error adding architecture to seccomp filter: {strerror(-ret)}")
        _check(lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "error setting no new privileges")
        for call in profile.get("syscalls") or []:
            action = action_value(call["action"], call.get("errnoRet"))
            if action == default:
                continue
            for name in call.get("names") or []:
                _add_rule(lib, ctx, name, action, call.get("args") or [], logger)
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            _check(lib.seccomp_export_bpf(ctx, fd), "error exporting seccomp filter")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def library():
    """libseccomp, opened while the runtime's filesystem is still in view."""
    import ctypes

    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as e:
        raise RuncError(f"seccomp: libseccomp.so.2 is not available: {e}") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]

    class ArgCmp(ctypes.Structure):  # struct scmp_arg_cmp
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                    ("datum_b", ctypes.c_uint64)]

    lib.ArgCmp = ArgCmp
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def version() -> str:
    import ctypes

    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return ""

    class _Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def _add_rule(lib, ctx: int, name: str, action: int, args: list[dict], logger) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        if logger:
            logger.debug(f'unknown seccomp syscall "{name}" ignored')
        return
    conditions = [lib.ArgCmp(a["index"], OPERATORS[a["op"]], a.get("value", 0), a.get("valueTwo", 0)) for a in args]
    indexes = [a["index"] for a in args]
    groups = [[c] for c in conditions] if len(set(indexes)) != len(indexes) else [conditions]
    for group in groups:
        array = (lib.ArgCmp * len(group))(*group)
        ret = lib.seccomp_rule_add_array(ctx, action, number, len(group), array)
        _check(ret, f"error adding seccomp filter rule for syscall {name}")


def _check(ret: int, what: str) -> None:
    if ret < 0:
        raise RuncError(f"{what}: {strerror(-ret)}")
