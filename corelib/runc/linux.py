"""Every kernel call whale-runc needs that Python's `os` lacks, through ctypes, in this one module.

Python 3.11 has no unshare/setns/mount/pivot_root/capset; they are thin wrappers over libc (or
raw syscall numbers where glibc has no wrapper). Failures raise OSError with the errno, so callers
can tell EPERM from ENOENT exactly as runc does. The few C types needed are made from `_ctypes`,
ctypes' C core: `ctypes` itself (its dozens of types, struct, _endian) is ~3 ms of every create.
"""

import _ctypes
import os
import sys


class c_int(_ctypes._SimpleCData):
    _type_ = "i"


class c_uint(_ctypes._SimpleCData):
    _type_ = "I"


class c_ulong(_ctypes._SimpleCData):
    _type_ = "L"


class c_uint64(_ctypes._SimpleCData):
    _type_ = "Q"


class c_char(_ctypes._SimpleCData):
    _type_ = "c"


c_int32, c_uint32, c_size_t = c_int, c_uint, c_ulong


class _Function(_ctypes.CFuncPtr):
    """A libc function as ctypes.CDLL(None, use_errno=True) makes it: C calling convention, int result."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class _Libc:
    def __init__(self):
        self._handle = _ctypes.dlopen(None, os.RTLD_LOCAL)

    def __getattr__(self, name: str) -> _Function:
        func = _Function((name, self))
        setattr(self, name, func)
        return func


_libc = _Libc()

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 0x10000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
MNT_DETACH = 0x2

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000
AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_SYSCALLS = {
    # name: (x86_64, aarch64)
    "pivot_root": (155, 41),
    "keyctl": (250, 219),
    "bpf": (321, 280),
    "mount_setattr": (442, 442),
    "close_range": (436, 436),
    "seccomp": (317, 277),
}
_ARCH = 1 if os.uname().machine in ("aarch64", "arm64") else 0


def _syscall(name: str, *args: object) -> int:
    return _libc.syscall(_SYSCALLS[name][_ARCH], *args)


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret == -1:
        err = _ctypes.get_errno()
        text = os.strerror(err)
        text = text[:1].lower() + text[1:]  # Go's wording: "operation not permitted"
        raise OSError(err, text, path) if path is not None else OSError(err, f"{what}: {text}")
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


CLOSE_RANGE_CLOEXEC = 4
SECCOMP_SET_MODE_FILTER = 1


def seccomp_set_filter(program: bytes) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER, 0, &{len, filter}): a BPF program of 8-byte instructions."""
    instructions = (c_char * len(program)).from_buffer_copy(program)
    fprog = ((len(program) // 8).to_bytes(2, sys.byteorder) + bytes(6)
             + _ctypes.addressof(instructions).to_bytes(8, sys.byteorder))
    _check(_syscall("seccomp", c_uint(SECCOMP_SET_MODE_FILTER), c_uint(0), (c_char * 16).from_buffer_copy(fprog)),
           "seccomp")


def close_range(first: int, last: int, flags: int = 0) -> None:
    _check(_syscall("close_range", c_uint(first), c_uint(last), c_uint(flags)), "close_range")


def unshare(flags: int) -> None:
    _check(_libc.unshare(c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(c_int(fd), c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    ret = _libc.mount(_b(source), _b(target), _b(fstype), c_ulong(flags), _b(data or None))
    _check(ret, "mount", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), c_int(flags)), "umount2", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_syscall("pivot_root", _b(new_root), _b(put_old)), "pivot_root", new_root)


class _MountAttr(_ctypes.Structure):
    _fields_ = [("attr_set", c_uint64), ("attr_clr", c_uint64),
                ("propagation", c_uint64), ("userns_fd", c_uint64)]


def mount_setattr(path: str, attr_set: int, attr_clr: int, recursive: bool = True) -> None:
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    ret = _syscall("mount_setattr", c_int(-100), _b(path), c_uint(flags), _ctypes.byref(attr),
                   c_size_t(_ctypes.sizeof(attr)))
    _check(ret, "mount_setattr", path)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, c_size_t(len(raw))), "sethostname")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, c_size_t(len(raw))), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    args = (c_ulong(a) for a in (arg2, arg3, arg4, arg5))
    return _check(_libc.prctl(c_int(option), *args), "prctl")


def set_name(name: str) -> None:
    """The process's comm (what `ps -o comm` and /proc/PID/status show), like runc's `runc:[2:INIT]`."""
    _libc.prctl(c_int(PR_SET_NAME), name.encode()[:15], 0, 0, 0)


class _CapHeader(_ctypes.Structure):
    _fields_ = [("version", c_uint32), ("pid", c_int)]


class _CapData(_ctypes.Structure):
    _fields_ = [("effective", c_uint32), ("permitted", c_uint32), ("inheritable", c_uint32)]


_CAP_VERSION_3 = 0x20080522


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) as 64-bit masks."""
    header = _CapHeader(_CAP_VERSION_3, pid)
    data = (_CapData * 2)()
    _check(_libc.capget(_ctypes.byref(header), data), "capget")
    return tuple(data[0].__getattribute__(f) | (data[1].__getattribute__(f) << 32)
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(_ctypes.byref(header), data), "capset")


class _Rlimit(_ctypes.Structure):
    _fields_ = [("cur", c_uint64), ("max", c_uint64)]


def prlimit(pid: int, resource: int, soft: int, hard: int) -> None:
    new = _Rlimit(soft & 0xFFFFFFFFFFFFFFFF, hard & 0xFFFFFFFFFFFFFFFF)
    _check(_libc.prlimit(c_int(pid), c_int(resource), _ctypes.byref(new), None), "prlimit")


KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5
KEYCTL_DESCRIBE = 6


def join_session_keyring(name: str) -> int:
    return _check(_syscall("keyctl", c_int(KEYCTL_JOIN_SESSION_KEYRING), name.encode()),
                  "keyctl(join session keyring)")


def keyring_describe(key_id: int) -> str:
    buf = (c_char * 512)()
    n = _check(_syscall("keyctl", c_int(KEYCTL_DESCRIBE), c_int32(key_id), buf, c_size_t(512)),
               "keyctl(describe)")
    return buf.raw[:max(n - 1, 0)].decode()


def keyring_setperm(key_id: int, perm: int) -> None:
    _check(_syscall("keyctl", c_int(KEYCTL_SETPERM), c_int32(key_id), c_uint32(perm)),
           "keyctl(setperm)")


def bpf(cmd: int, attr: bytes) -> int:
    buf = string_buffer(attr)
    return _check(_syscall("bpf", c_int(cmd), buf, c_uint(len(attr))), "bpf")


def faccessat_eaccess_x(path: str) -> None:
    """access(path, X_OK) judged with the effective ids, as Go's unix.Eaccess does."""
    at_fdcwd, at_eaccess, x_ok = -100, 0x200, 1
    _check(_libc.faccessat(c_int(at_fdcwd), _b(path), c_int(x_ok), c_int(at_eaccess)),
           "faccessat", path)


def address_of(buf: object) -> int:
    return _ctypes.addressof(buf)


def string_buffer(data: bytes) -> object:
    buf = (c_char * len(data))()
    buf.raw = data
    return buf
