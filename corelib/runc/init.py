"""The container's init, inside its namespaces (runc's standard_init_linux.go and setns_init_linux.go).

`standard_init` is the ordered script for a new container: session keyring, loopback, mounts and
devices, hooks, pivot_root, console, read-only parts, hostname, sysctls, masked paths, rlimits (set
by the runtime), seccomp, capabilities and user, then the wait on exec.fifo and execve.
`setns_init` is the shorter one for `exec` into a running container."""

from __future__ import annotations

import os
import stat
import time

from corelib.runc import capabilities, linux, rootfs
from corelib.runc.errors import RuncError, ignored, strerror
from corelib.runc.process import Channel, ProcessConfig
from corelib.runc.userns import running_in_user_ns


def preload(cfg: ProcessConfig) -> object:
    """Import (and dlopen) now what the init needs later: once it is in a user namespace or inside the
    container's filesystem, the interpreter's own files are out of reach. Returns the seccomp program, if any."""
    import fcntl  # noqa: F401
    import struct  # noqa: F401

    if "network" in cfg.new_namespaces():
        import _socket  # noqa: F401
    if cfg.spec.get("hooks"):
        import select  # noqa: F401

        import corelib.runc.hooks  # noqa: F401
    if any(m.type == "cgroup" for m in cfg.mounts):
        import corelib.runc.cgroups.v1  # noqa: F401
    if cfg.process.get("terminal"):
        import termios  # noqa: F401
        import tty  # noqa: F401

        import corelib.runc.console  # noqa: F401
    if any("tmpcopyup" in m.extensions for m in cfg.mounts):
        import shutil  # noqa: F401
        import tempfile  # noqa: F401
    profile = (cfg.spec.get("linux") or {}).get("seccomp")
    if profile and (profile.get("defaultAction") or profile.get("syscalls")):
        from corelib.runc import seccomp

        return seccomp.program(profile, cfg.logger)
    return None


def standard_init(cfg: ProcessConfig, chan: Channel) -> None:
    linux.set_name("runc:[2:INIT]")
    chan.expect("go")
    become_session_leader(cfg)
    # The runtime moves us into the container's cgroups meanwhile (the kernel's first migration
    # is slow); wait for it only where it matters: a cgroup namespace, the cgroup mount, the hooks.
    in_cgroups = CgroupsApplied(chan)
    if cfg.cgroupns:
        in_cgroups.wait()
        linux.unshare(linux.CLONE_NEWCGROUP)
    set_oom_score_adj(cfg.process.get("oomScoreAdj"))
    if not cfg.no_new_keyring:
        join_session_keyring(cfg.container_id, cfg.new_userns)
    if "network" in cfg.new_namespaces():
        loopback_up()
    env = process_env(cfg.process)
    has_mountns = any(kind == "mount" for kind, _ in cfg.namespaces)
    mounting_ns = time.time_ns()
    if has_mountns:
        prepare_rootfs(cfg, in_cgroups)
    in_cgroups.wait()
    chan.send("hooks", phases=[("mounts", mounting_ns, time.time_ns())])
    chan.expect("resume")
    pivoting_ns = time.time_ns()
    enter_rootfs(cfg, has_mountns)
    pivoted_ns = time.time_ns()
    if cfg.process.get("terminal"):
        from corelib.runc import console

        console.setup(cfg.console, cfg.process.get("consoleSize"), mount_console=True)
        console.set_controlling_tty()
    if has_mountns:
        finalize_rootfs(cfg)
    linux_spec = cfg.spec.get("linux") or {}
    set_names(cfg.spec)
    for key, value in (linux_spec.get("sysctl") or {}).items():
        rootfs.write_sysctl(key, value)
    for path in linux_spec.get("readonlyPaths") or []:
        rootfs.readonly_path(path)
    for path in linux_spec.get("maskedPaths") or []:
        rootfs.mask_path(path)
    no_new_privs = bool(cfg.process.get("noNewPrivileges"))
    if no_new_privs:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    chan.send("ready", phases=[("pivot_root", pivoting_ns, pivoted_ns)])
    chan.expect("run")
    executable = finish(cfg, chan, env, no_new_privs)
    wait_for_start(cfg)
    run_start_container_hooks(cfg)
    execute(cfg, executable, env)


def setns_init(cfg: ProcessConfig, chan: Channel) -> None:
    linux.set_name("runc:[2:INIT]")
    chan.expect("go")
    os.setsid()
    env = process_env(cfg.process)
    if cfg.process.get("terminal"):
        from corelib.runc import console

        console.setup(cfg.console, cfg.process.get("consoleSize"), mount_console=False)
        console.set_controlling_tty()
    no_new_privs = bool(cfg.process.get("noNewPrivileges"))
    if no_new_privs:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    executable = finish(cfg, chan, env, no_new_privs)
    execute(cfg, executable, env)


def finish(cfg: ProcessConfig, chan: Channel, env: dict, no_new_privs: bool) -> str:
    """Seccomp, capabilities and user, the executable's check; then tell the runtime we are done.
    Returns the executable's path."""
    profile = (cfg.spec.get("linux") or {}).get("seccomp")
    wants_seccomp = bool(profile and (profile.get("defaultAction") or profile.get("syscalls")))
    if wants_seccomp and not no_new_privs:
        load_seccomp(profile, cfg)
    capabilities_ns = time.time_ns()
    finalize_namespace(cfg, env)
    phases = [("capabilities", capabilities_ns, time.time_ns())]
    executable = look_path(cfg.process["args"][0], env.get("PATH", ""))
    check_executable(executable)
    if wants_seccomp and no_new_privs:
        load_seccomp(profile, cfg)
    if cfg.init:
        chan.send("done", phases=phases)
        chan.close()
    else:
        chan.send("exec")
    return executable


def become_session_leader(cfg: ProcessConfig) -> None:
    os.setsid()
    os.setgid(0)
    os.setuid(0)
    if not cfg.rootless_euid and _setgroups_allowed():
        os.setgroups([])


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


def set_oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as e:
        raise RuncError(f"write /proc/self/oom_score_adj: {strerror(e.errno or 0)}") from None


def join_session_keyring(container_id: str, userns: bool) -> None:
    """A fresh session keyring named after the container, not the caller's (unless --no-new-keyring)."""
    try:
        key = linux.join_session_keyring(f"_ses.{container_id}")
    except OSError as e:
        if e.errno == 38:  # ENOSYS: no keyrings in this kernel
            return
        raise RuncError(f"unable to join session keyring: {strerror(e.errno or 0)}") from None
    # Make it searchable: possessor all, plus "other search" in a user namespace, else "user search".
    description = linux.keyring_describe(key).split(";")
    perm = int(description[3], 16) if len(description) > 3 else 0x3F010000
    perm = (perm & 0xFFFFFFFF) | (0x8 if userns else 0x80000)
    linux.keyring_setperm(key, perm)


def loopback_up() -> None:
    """`lo` is down in a new network namespace; runc brings it up."""
    import _socket  # the C module: `socket` drags in enum and selectors
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        flags = struct.unpack_from("H", fcntl.ioctl(s.fileno(), siocgifflags, struct.pack("16sH14x", b"lo", 0)), 16)[0]
        fcntl.ioctl(s.fileno(), siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))
    finally:
        s.close()


def process_env(process: dict) -> dict:
    env = {}
    for item in process.get("env") or []:
        key, sep, value = item.partition("=")
        if sep:
            env[key] = value
    return env


class CgroupsApplied:
    """The runtime's `cgroups` message, awaited once."""

    def __init__(self, chan: Channel):
        self.chan, self.done = chan, False

    def wait(self) -> None:
        if not self.done:
            self.chan.expect("cgroups")
            self.done = True


def prepare_rootfs(cfg: ProcessConfig, in_cgroups: CgroupsApplied) -> None:
    """Mounts and /dev, up to the point where the runtime's prestart hooks run."""
    linux_spec = cfg.spec.get("linux") or {}
    from corelib.runc.spec import PROPAGATION

    rootfs.prepare_root(cfg.rootfs, PROPAGATION.get(linux_spec.get("rootfsPropagation") or "", 0))
    ctx = rootfs.MountContext(cfg.rootfs, cfg.cgroupns, any(k == "user" for k, _ in cfg.namespaces))
    for m in cfg.mounts:
        if m.type == "cgroup":
            in_cgroups.wait()  # the mount shows our own cgroup
        try:
            rootfs.mount_to_rootfs(m, ctx)
        except (RuncError, OSError) as e:
            from corelib.runc.errors import describe

            raise RuncError(f'error mounting "{m.source}" to rootfs at "{m.destination}": {describe(e)}') from None
    if not any(m.type == "bind" and os.path.normpath(m.destination) == "/dev" for m in cfg.mounts):
        try:
            rootfs.create_devices(cfg.rootfs, cfg.devices, bind=ctx.in_userns or running_in_user_ns())
        except OSError as e:
            from corelib.runc.errors import describe

            raise RuncError(f"error creating device nodes: {describe(e)}") from None
        rootfs.setup_ptmx(cfg.rootfs)
        rootfs.setup_dev_symlinks(cfg.rootfs)


def enter_rootfs(cfg: ProcessConfig, has_mountns: bool) -> None:
    """createContainer hooks in the container's namespaces, then pivot_root (or its alternatives)."""
    os.chdir(cfg.rootfs)
    hooks = (cfg.spec.get("hooks") or {}).get("createContainer")
    if hooks:
        from corelib.runc.hooks import run_hooks

        run_hooks(hooks, oci_state(cfg, "creating"))
    try:
        if cfg.no_pivot:
            rootfs.ms_move_root(cfg.rootfs)
        elif has_mountns:
            rootfs.pivot_root(cfg.rootfs)
        else:
            rootfs.chroot()
    except (RuncError, OSError) as e:
        from corelib.runc.errors import describe

        raise RuncError(f"error jailing process inside rootfs: {describe(e)}") from None
    if has_mountns:
        try:
            rootfs.reopen_dev_null()
        except OSError as e:
            raise RuncError(f"error reopening /dev/null inside container: open /dev/null: "
                            f"{strerror(e.errno or 0)}") from None
    cwd = cfg.process.get("cwd") or "/"
    os.makedirs(cwd, 0o755, exist_ok=True)


def oci_state(cfg: ProcessConfig, status: str) -> dict:
    state = {"ociVersion": "1.0.2-dev", "id": cfg.container_id, "status": status, "pid": os.getpid(),
             "bundle": cfg.bundle}
    if cfg.spec.get("annotations"):
        state["annotations"] = cfg.spec["annotations"]
    return state


def finalize_rootfs(cfg: ProcessConfig) -> None:
    """tmpfs and /dev mounts asked to be read-only become so now; then the root itself; then umask."""
    from corelib.runc import linux as L

    for m in cfg.mounts:
        if m.flags & L.MS_RDONLY and (m.type == "tmpfs" or os.path.normpath(m.destination) == "/dev"):
            rootfs.remount_readonly(m.destination, m.flags)
    if (cfg.spec.get("root") or {}).get("readonly"):
        try:
            rootfs.set_readonly_root()
        except RuncError as e:
            raise RuncError(f"error setting rootfs as readonly: {e}") from None
    umask = (cfg.process.get("user") or {}).get("umask")
    os.umask(0o022 if umask is None else umask)


def set_names(spec: dict) -> None:
    if spec.get("hostname"):
        try:
            linux.sethostname(spec["hostname"])
        except OSError as e:
            raise RuncError(f"sethostname: {strerror(e.errno or 0)}") from None
    if spec.get("domainname"):
        linux.setdomainname(spec["domainname"])


def load_seccomp(profile: dict, cfg: ProcessConfig) -> None:
    try:
        linux.seccomp_set_filter(cfg.seccomp_program or b"")
    except OSError as e:
        raise RuncError(f"error loading seccomp filter into kernel: {strerror(e.errno or 0)}") from None


def finalize_namespace(cfg: ProcessConfig, env: dict) -> None:
    """runc's finalizeNamespace: bounding set, user, cwd, capabilities (inherited fds were marked
    close-on-exec at the start, while /proc/self/fd was surely in view)."""
    caps = capabilities.Caps(cfg.process.get("capabilities"))
    if caps.unknown and cfg.logger:
        cfg.logger.warning(f"ignoring unknown or unavailable capabilities: [{' '.join(caps.unknown)}]")
    cwd = cfg.process.get("cwd") or ""
    chdir_later = False
    if cwd:
        try:
            os.chdir(cwd)
        except OSError:
            chdir_later = True
    caps.apply_bounding()
    linux.prctl(linux.PR_SET_KEEPCAPS, 1)
    setup_user(cfg, env)
    if chdir_later:
        try:
            os.chdir(cwd)
        except OSError as e:
            raise RuncError(f'chdir to cwd ("{cwd}") set in config.json failed: {strerror(e.errno or 0)}') from None
    linux.prctl(linux.PR_SET_KEEPCAPS, 0)
    try:
        caps.apply()
    except OSError as e:
        raise RuncError(f"unable to apply caps: {strerror(e.errno or 0)}") from None


def close_exec_from(first: int) -> None:
    """Mark every inherited descriptor from `first` on close-on-exec, so none leaks into the container."""
    try:
        linux.close_range(first, 0xFFFFFFFF, linux.CLOSE_RANGE_CLOEXEC)
        return
    except OSError:  # before Linux 5.11
        pass
    import fcntl

    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            with ignored(OSError):
                fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)


def setup_user(cfg: ProcessConfig, env: dict) -> None:
    user = cfg.process.get("user") or {}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    fix_stdio_permissions(uid)
    if not cfg.rootless_euid and _setgroups_allowed():
        try:
            os.setgroups(user.get("additionalGids") or [])
        except OSError as e:
            raise RuncError(f"setgroups: {strerror(e.errno or 0)}") from None
    try:
        os.setgid(gid)
        os.setuid(uid)
    except OSError as e:
        raise RuncError(f"setresuid/setresgid to {uid}:{gid}: {strerror(e.errno or 0)}") from None
    if not env.get("HOME"):
        env["HOME"] = home_of(uid)


def home_of(uid: int) -> str:
    """The home directory of `uid` from the container's /etc/passwd, "/" when it has none."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5]
    except OSError:
        pass
    return "/"


def fix_stdio_permissions(uid: int) -> None:
    try:
        null = os.stat("/dev/null").st_rdev
    except OSError:
        null = None
    for fd in range(3):
        try:
            st = os.fstat(fd)
            if (stat.S_ISCHR(st.st_mode) and st.st_rdev == null) or st.st_uid == uid:
                continue
            os.fchown(fd, uid, st.st_gid)
        except OSError:
            continue


def look_path(file: str, path_env: str) -> str:
    """Go's exec.LookPath, with its error wording (runc reports it verbatim)."""
    if "/" in file:
        err = _find_executable(file)
        if err:
            raise RuncError(f'exec: "{file}": {err}')
        return file
    for directory in path_env.split(":"):
        candidate = os.path.join(directory or ".", file)
        if _find_executable(candidate) is None:
            if not candidate.startswith("/"):
                raise RuncError(f'exec: "{file}": cannot run executable found relative to current directory')
            return candidate
    raise RuncError(f'exec: "{file}": executable file not found in $PATH')


def _find_executable(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError as e:
        return f"stat {path}: {strerror(e.errno or 0)}"
    if not stat.S_ISDIR(st.st_mode) and st.st_mode & 0o111:
        return None
    return "permission denied"


def check_executable(path: str) -> None:
    """Can we execute it (a noexec mount says no where LookPath says yes)? As Go's unix.Eaccess: ask the
    kernel, and when it refuses to answer (a seccomp profile without faccessat2), judge from the mode."""
    try:
        linux.faccessat_eaccess_x(path)
        return
    except OSError as e:
        err = e.errno
    if err in (1, 38):  # EPERM, ENOSYS
        st = os.stat(path)
        uid = os.geteuid()
        if uid == 0:
            allowed = bool(st.st_mode & 0o111)
        elif st.st_uid == uid:
            allowed = bool(st.st_mode & 0o100)
        elif st.st_gid == os.getegid() or st.st_gid in os.getgroups():
            allowed = bool(st.st_mode & 0o010)
        else:
            allowed = bool(st.st_mode & 0o001)
        if allowed:
            return
        err = 13
    raise RuncError(f"exec {path}: {strerror(err or 0)}")


def wait_for_start(cfg: ProcessConfig) -> None:
    """Block on exec.fifo until `start` opens it, then write the byte it reads. The fifo is reached
    through the state directory's descriptor, taken before the jump into the rootfs: a container
    without /proc (or without a mount namespace) gets there too."""
    from corelib.runc.container import EXEC_FIFO

    try:
        fd = os.open(EXEC_FIFO, os.O_WRONLY | os.O_CLOEXEC, dir_fd=cfg.state_dir_fd)
    except OSError as e:
        raise RuncError(f"open exec fifo {EXEC_FIFO}: {strerror(e.errno or 0)}") from None
    os.write(fd, b"0")
    os.close(fd)
    os.close(cfg.state_dir_fd)


def run_start_container_hooks(cfg: ProcessConfig) -> None:
    hooks = (cfg.spec.get("hooks") or {}).get("startContainer")
    if hooks:
        from corelib.runc.hooks import run_hooks

        run_hooks(hooks, oci_state(cfg, "created"))


def execute(cfg: ProcessConfig, executable: str, env: dict) -> None:
    """execve the user's process; a failure reaches the runtime through stage 1's error report."""
    from corelib.runc.process import default_signals, flush_stdio

    flush_stdio()
    default_signals()
    for fd in range(3, 3 + cfg.preserve_fds):
        with ignored(OSError):
            os.set_inheritable(fd, True)
    try:
        os.execve(executable, cfg.process["args"], env)
    except OSError as e:
        raise RuncError(f"exec {executable}: {strerror(e.errno or 0)}") from None
