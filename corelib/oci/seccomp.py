"""Docker's default seccomp profile (moby's profiles/seccomp) and the conversion of a profile in
Docker's JSON format (the default one, or `--security-opt seccomp=<profile JSON>`) into the
runtime spec's `linux.seccomp` for one container.

The profile allows a fixed list of system calls and denies the rest with EPERM. Some calls are
allowed only with the capability that makes them safe: `mount`, `unshare`, `setns`, `clone` with
namespace flags... need CAP_SYS_ADMIN; `reboot` CAP_SYS_BOOT; `init_module` CAP_SYS_MODULE;
`keyctl`, `add_key`, `request_key` and `kexec_load` are never allowed.
"""

from __future__ import annotations

import copy
import json
import os
import platform

from corelib import errdefs

ALLOW, ERRNO = "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"
ENOSYS = 38
#: CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET
NAMESPACE_FLAGS = 0x7E020000

_ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir", "chmod",
    "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
    "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl",
    "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
    "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
    "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
    "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
    "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
    "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
    "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr",
    "lstat", "lstat64", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
    "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
    "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
    "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
    "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
    "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl",
    "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket",
    "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
    "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
    "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
    "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev"
)

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "x86", "i386": "x86",
            "s390x": "s390x", "ppc64le": "ppc64le", "mips64": "mips64"}
_SECCOMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "arm64": "SCMP_ARCH_AARCH64",
                 "arm": "SCMP_ARCH_ARM", "s390x": "SCMP_ARCH_S390X", "ppc64le": "SCMP_ARCH_PPC64LE",
                 "mips64": "SCMP_ARCH_MIPS64"}


def _rule(names: list[str], includes: dict | None = None, excludes: dict | None = None, args: list | None = None,
          action: str = ALLOW, errno_ret: int | None = None) -> dict:
    rule = {"names": names, "action": action, "args": args or [], "includes": includes or {},
            "excludes": excludes or {}}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    return rule


def _arg(index: int, value: int, op: str = "SCMP_CMP_EQ") -> dict:
    return {"index": index, "value": value, "valueTwo": 0, "op": op}


def _caps(*caps: str) -> dict:
    return {"caps": list(caps)}


DEFAULT_PROFILE = {
    "defaultAction": ERRNO,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
    ],
    "syscalls": [
        _rule(list(_ALLOWED)),
        _rule(["ptrace"], includes={"minKernel": "4.8"}),
        # personality(2): only the harmless personas (PER_LINUX, PER_LINUX32, UNAME26 variants, query)
        *[_rule(["personality"], args=[_arg(0, persona)]) for persona in (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)],
        _rule(["sync_file_range2"], includes={"arches": ["ppc64le"]}),
        _rule(["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
              includes={"arches": ["arm", "arm64"]}),
        _rule(["arch_prctl"], includes={"arches": ["amd64", "x32"]}),
        _rule(["modify_ldt"], includes={"arches": ["amd64", "x32", "x86"]}),
        _rule(["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
              includes={"arches": ["s390", "s390x"]}),
        _rule(["open_by_handle_at"], includes=_caps("CAP_DAC_READ_SEARCH")),
        _rule(["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
               "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open",
               "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2",
               "unshare"], includes=_caps("CAP_SYS_ADMIN")),
        # Without CAP_SYS_ADMIN, clone(2) may not ask for new namespaces, and clone3(2) (whose flags
        # seccomp cannot read) says it does not exist, so libcs fall back to clone.
        _rule(["clone"], args=[_arg(0, NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")],
              excludes={"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}),
        _rule(["clone"], args=[_arg(1, NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")],
              includes={"arches": ["s390", "s390x"]}, excludes={"caps": ["CAP_SYS_ADMIN"]}),
        _rule(["clone3"], excludes={"caps": ["CAP_SYS_ADMIN"]}, action=ERRNO, errno_ret=ENOSYS),
        _rule(["reboot"], includes=_caps("CAP_SYS_BOOT")),
        _rule(["chroot"], includes=_caps("CAP_SYS_CHROOT")),
        _rule(["delete_module", "init_module", "finit_module"], includes=_caps("CAP_SYS_MODULE")),
        _rule(["acct"], includes=_caps("CAP_SYS_PACCT")),
        _rule(["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
              includes=_caps("CAP_SYS_PTRACE")),
        _rule(["iopl", "ioperm"], includes=_caps("CAP_SYS_RAWIO")),
        _rule(["settimeofday", "stime", "clock_settime"], includes=_caps("CAP_SYS_TIME")),
        _rule(["vhangup"], includes=_caps("CAP_SYS_TTY_CONFIG")),
        _rule(["get_mempolicy", "mbind", "set_mempolicy"], includes=_caps("CAP_SYS_NICE")),
        _rule(["syslog"], includes=_caps("CAP_SYSLOG")),
    ],
}


def native_arch() -> str:
    """The Go name of this machine's architecture (what profiles' `arches` use)."""
    machine = platform.machine()
    return _GO_ARCH.get(machine, machine)


def kernel_at_least(wanted: str, release: str | None = None) -> bool:
    def numbers(text: str) -> tuple[int, ...]:
        parts = []
        for piece in text.split("-")[0].split(".")[:3]:
            digits = "".join(ch for ch in piece if ch.isdigit())
            parts.append(int(digits or 0))
        return tuple(parts)

    return numbers(release or os.uname().release) >= numbers(wanted)


def load_profile(body: str) -> dict:
    """A profile given in Docker's JSON format (what the CLI sends for `--security-opt seccomp=FILE`)."""
    try:
        profile = json.loads(body)
    except json.JSONDecodeError as e:
        raise errdefs.InvalidArgument(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(profile, dict):
        raise errdefs.InvalidArgument("Decoding seccomp profile failed: not a JSON object")
    return profile


def setup_seccomp(profile: dict, capabilities: list[str], arch: str | None = None,
                  kernel: str | None = None) -> dict | None:
    """The `linux.seccomp` of the runtime spec for a container holding `capabilities` (its bounding
    set): rules filtered by architecture, capabilities and kernel version."""
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise errdefs.InvalidArgument("'architectures' and 'archMap' were specified in the seccomp profile, "
                                      "use either 'architectures' or 'archMap'")
    arch = arch or native_arch()
    seccomp: dict = {"defaultAction": profile.get("defaultAction", "")}
    if "defaultErrnoRet" in profile:
        seccomp["defaultErrnoRet"] = profile["defaultErrnoRet"]
    architectures = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == _SECCOMP_ARCH.get(arch):
            architectures += [entry["architecture"], *entry.get("subArchitectures", [])]
            break
    if architectures:
        seccomp["architectures"] = architectures
    seccomp["syscalls"] = [_convert(rule) for rule in profile.get("syscalls") or []
                           if _applies(rule, capabilities, arch, kernel)]
    return seccomp


def _applies(rule: dict, capabilities: list[str], arch: str, kernel: str | None) -> bool:
    includes, excludes = rule.get("includes") or {}, rule.get("excludes") or {}
    if arch in (excludes.get("arches") or []):
        return False
    if any(c in capabilities for c in excludes.get("caps") or []):
        return False
    if excludes.get("minKernel") and kernel_at_least(excludes["minKernel"], kernel):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if any(c not in capabilities for c in includes.get("caps") or []):
        return False
    return not (includes.get("minKernel") and not kernel_at_least(includes["minKernel"], kernel))


def _convert(rule: dict) -> dict:
    if rule.get("name") and rule.get("names"):
        raise errdefs.InvalidArgument("'name' and 'names' were specified in the seccomp profile, "
                                      "use either 'name' or 'names'")
    converted = {"names": [rule["name"]] if rule.get("name") else list(rule.get("names") or []),
                 "action": rule.get("action", "")}
    if rule.get("errnoRet") is not None:
        converted["errnoRet"] = rule["errnoRet"]
    if rule.get("args"):
        converted["args"] = [{"index": a.get("index", 0), "value": a.get("value", 0),
                              "valueTwo": a.get("valueTwo", 0), "op": a.get("op", "")} for a in rule["args"]]
    return converted


def default_profile() -> dict:
    return copy.deepcopy(DEFAULT_PROFILE)
