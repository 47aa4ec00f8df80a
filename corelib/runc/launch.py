"""From a bundle to a created container, and from a process spec to a process in a running one:
the runtime's half of `create`, `run` and `exec` (runc's utils_linux.go and libcontainer's start)."""

from __future__ import annotations

import os
import time

from corelib.runc import cgroups
from corelib.runc import spec as specconv
from corelib.runc.cgroups.devices import rules_from_spec
from corelib.runc.container import EXEC_FIFO, Container, remove_all, rfc3339_nano, validate_id
from corelib.runc.errors import ALREADY_EXISTS, RuncError, describe, ignored
from corelib.runc.process import (
    ChildGone,
    Janitor,
    ProcessConfig,
    fork_child,
    kill_quietly,
    reap,
    set_rlimits,
    write_id_maps,
)


class CreateOptions:
    def __init__(self, bundle: str = "", pid_file: str = "", console_socket: str = "", no_pivot: bool = False,
                 no_new_keyring: bool = False, preserve_fds: int = 0, detach: bool = True):
        self.bundle, self.pid_file, self.console_socket = bundle, pid_file, console_socket
        self.no_pivot, self.no_new_keyring, self.preserve_fds = no_pivot, no_new_keyring, preserve_fds
        self.detach = detach


def create_container(ctx, container_id: str, opts: CreateOptions) -> tuple[Container, object]:
    """Validate the bundle, make the state directory, start the init and leave it waiting on
    exec.fifo. Returns the container and, for a foreground terminal, the socket the pty master
    arrives on. On failure nothing is left behind."""
    started_ns = time.time_ns()
    if ctx.systemd_cgroup:
        raise RuncError("systemd cgroup driver is not supported by whale-runc (use cgroupfs paths)")
    validate_id(container_id)
    bundle = os.path.abspath(opts.bundle or ".")
    try:
        os.chdir(bundle)
    except OSError as e:
        raise RuncError(describe(e)) from None
    spec = specconv.load(bundle)
    namespaces = specconv.namespaces(spec)
    rootfs = specconv.rootfs_path(spec, bundle)
    mounts = [specconv.Mount(m, bundle) for m in spec.get("mounts") or []]
    process = spec["process"]
    if process.get("terminal") and opts.detach and not opts.console_socket:
        raise RuncError("cannot allocate tty if runc will detach without setting console socket")
    if opts.console_socket and not process.get("terminal"):
        raise RuncError("cannot use console socket if runc will not detach or allocate tty")
    state_dir = os.path.join(ctx.root, container_id)
    os.makedirs(ctx.root, 0o700, exist_ok=True)
    if os.path.lexists(state_dir):
        raise RuncError(ALREADY_EXISTS)
    specconv.validate(spec, bundle, rootfs, namespaces)
    linux_spec = spec.get("linux") or {}
    if linux_spec.get("seccomp"):
        from corelib.runc import seccomp

        seccomp.validate(linux_spec["seccomp"])
    try:
        os.mkdir(state_dir, 0o711)
    except FileExistsError:
        raise RuncError(ALREADY_EXISTS) from None
    ctx.logger.phase("load config", started_ns, time.time_ns())
    manager = cgroups.new_manager(linux_spec.get("cgroupsPath", ""), container_id, ctx.rootless_cgroups)
    janitor = Janitor(state_dir, manager)  # forked once stage 1 is on its way
    container = Container(ctx.root, container_id, {
        "id": container_id, "bundle": bundle, "rootfs": os.path.realpath(rootfs), "created": "",
        "init_process_pid": 0, "init_process_start": 0, "config": spec, "cgroup": manager.to_state(),
        "rootless": ctx.rootless_euid,
    }, cgroups=manager)
    foreground_console = None
    try:
        cfg = ProcessConfig(
            container_id=container_id, spec=spec, process=process, rootfs=container.state["rootfs"], bundle=bundle,
            namespaces=namespaces, mounts=mounts, devices=devices_of(spec, namespaces), no_pivot=opts.no_pivot,
            no_new_keyring=opts.no_new_keyring, rootless_euid=ctx.rootless_euid, preserve_fds=opts.preserve_fds,
            logger=ctx.logger, cgroupns=any(k == "cgroup" and not p for k, p in namespaces))
        cfg.state_dir_fd = make_exec_fifo(state_dir, linux_spec)
        if process.get("terminal"):
            cfg.console, foreground_console = open_console(opts.console_socket)
        waiting_ns = start_init(container, cfg, manager, janitor, ctx)
        if cfg.console is not None:
            cfg.console.close()
        os.close(cfg.state_dir_fd)
        if opts.pid_file:
            from corelib.runc.process import write_pid_file

            write_pid_file(opts.pid_file, container.pid)
    except BaseException:
        remove_all(state_dir)
        with ignored(RuncError):
            manager.destroy()
        janitor.done()
        raise
    janitor.done()
    ctx.logger.phase("wait exec.fifo", waiting_ns, time.time_ns())
    return container, foreground_console


def devices_of(spec: dict, namespaces: list[tuple[str, str]]) -> list[dict]:
    """Device nodes to create: runc's defaults, then the spec's own (which win on the same path)."""
    linux_spec = spec.get("linux") or {}
    nodes = [{"path": p, "type": t, "major": major, "minor": minor, "fileMode": 0o666, "uid": 0, "gid": 0}
             for p, t, major, minor, _ in specconv.default_devices_wanted(spec) if p]
    nodes += linux_spec.get("devices") or []
    if any(k == "user" for k, _ in namespaces):
        uid = specconv.host_id(linux_spec.get("uidMappings"), 0) or 0
        gid = specconv.host_id(linux_spec.get("gidMappings"), 0) or 0
        nodes = [{**d, "uid": uid, "gid": gid} for d in nodes]
    return nodes


def make_exec_fifo(state_dir: str, linux_spec: dict) -> int:
    """exec.fifo, owned by the container's root; returns an O_PATH descriptor of the state directory."""
    path = os.path.join(state_dir, EXEC_FIFO)
    old = os.umask(0)
    try:
        os.mkfifo(path, 0o622)
    finally:
        os.umask(old)
    uid = specconv.host_id(linux_spec.get("uidMappings"), 0) if linux_spec.get("uidMappings") else os.geteuid()
    gid = specconv.host_id(linux_spec.get("gidMappings"), 0) if linux_spec.get("gidMappings") else os.getegid()
    if (uid, gid) != (os.geteuid(), os.getegid()) and uid is not None:
        os.chown(path, uid, gid if gid is not None else -1)
    return os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def open_console(console_socket: str) -> tuple[object, object]:
    """(the socket the init sends the pty master on, our end of it when we keep the master ourselves)."""
    import socket

    from corelib.runc import console

    if console_socket:
        return console.connect(console_socket), None
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return theirs, ours


def start_init(container: Container, cfg: ProcessConfig, manager, janitor: Janitor, ctx) -> int:
    """Fork the init and see it through its setup; returns when it waits on exec.fifo (the time, in ns)."""
    resources = (cfg.spec.get("linux") or {}).get("resources") or {}
    forked_ns = time.time_ns()
    stage1, chan = fork_child(cfg, "standard_init")
    init_pid = None
    ran = False
    try:
        chan.send("go")
        janitor.start()
        janitor.tell(stage1)
        msg = chan.expect("usermap", "pid")
        if msg["type"] == "usermap":
            write_id_maps(stage1, cfg.spec.get("linux") or {}, ctx.rootless_euid)
            chan.send("usermap-ack")
            msg = chan.expect("pid")
        init_pid = msg["pid"]
        janitor.tell(init_pid)
        if init_pid != stage1 and reap(stage1) not in (0, None):
            raise ChildGone("container init exited unexpectedly")
        container.state["init_process_pid"] = init_pid
        chan.send("go")
        applying_ns = time.time_ns()
        ctx.logger.phase("namespaces", forked_ns, applying_ns)
        manager.apply(init_pid, resources)  # while the init starts on its mounts
        chan.send("cgroups")
        ctx.logger.phase("cgroups", applying_ns, time.time_ns())
        while True:
            msg = chan.expect("hooks", "ready", "done")
            for name, start_ns, end_ns in msg.get("phases", ()):
                ctx.logger.phase(name, start_ns, end_ns)
            if msg["type"] == "hooks":
                set_cgroup_and_run_hooks(container, manager, resources, "procHooks")
                chan.send("resume")
            elif msg["type"] == "ready":
                set_rlimits(init_pid, cfg.process.get("rlimits"))
                if not any(k == "mount" for k, _ in cfg.namespaces):
                    set_cgroup_and_run_hooks(container, manager, resources, "ready")
                save_created(container, init_pid)
                chan.send("run")
                ran = True
            else:
                return time.time_ns()
    except BaseException as e:
        kill_quietly(init_pid, stage1)
        if init_pid and init_pid != stage1:
            wait_gone(init_pid)
        reap(stage1)
        if isinstance(e, RuncError):
            prefix = "" if ran else "error during container init: "
            raise RuncError(f"unable to start container process: {prefix}{e}") from None
        raise
    finally:
        chan.close()


def set_cgroup_and_run_hooks(container: Container, manager, resources: dict, stage: str) -> None:
    """Limits first, so prestart hooks see them; then prestart and createRuntime hooks."""
    rules = None
    if not container.state.get("rootless"):
        rules = rules_from_spec(resources, specconv.default_devices_wanted(container.config))
    try:
        manager.set(resources, rules)
    except RuncError as e:
        raise RuncError(f"error setting cgroup config for {stage} process: {e}") from None
    hooks = container.config.get("hooks") or {}
    if hooks.get("prestart") or hooks.get("createRuntime"):
        from corelib.runc.hooks import run_hooks

        state = container.oci_state("creating")
        state["pid"] = container.pid
        run_hooks(hooks.get("prestart") or [], state)
        run_hooks(hooks.get("createRuntime") or [], state)


def save_created(container: Container, init_pid: int) -> None:
    from corelib.runc.container import proc_stat

    stat = proc_stat(init_pid)
    if stat is None:
        raise ChildGone("container init exited unexpectedly")
    container.state["init_process_start"] = stat[1]
    container.state["created"] = rfc3339_nano(time.time_ns())
    container.state["cgroup"] = container.cgroups.to_state()  # the paths it could join (rootless: maybe fewer)
    container.save()


def wait_gone(pid: int, timeout: float = 5.0) -> None:
    """Wait for a process that is not our child to disappear (or turn zombie)."""
    from corelib.runc.container import proc_stat

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = proc_stat(pid)
        if stat is None or stat[0] in "ZX":
            return
        time.sleep(0.002)


def exec_process(ctx, container: Container, process: dict, console_socket: str, detach: bool, pid_file: str,
                 preserve_fds: int) -> int:
    """Join the container's namespaces and cgroups and execve `process` there (runc's setnsProcess)."""
    from corelib.runc import linux
    from corelib.runc.spec import NAMESPACES

    init = container.pid
    kinds = [ns["type"] for ns in (container.config.get("linux") or {}).get("namespaces") or []]
    namespaces = [(kind, f"/proc/{init}/ns/{NAMESPACES[kind][1]}") for kind in NAMESPACES if kind in kinds]
    cfg = ProcessConfig(container_id=container.id, spec=container.config, process=process,
                        bundle=container.state["bundle"], namespaces=namespaces, rootless_euid=ctx.rootless_euid,
                        preserve_fds=preserve_fds, logger=ctx.logger, init=False)
    foreground_console = None
    if process.get("terminal"):
        cfg.console, foreground_console = open_console(console_socket)
    if not detach:
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    stage1, chan = fork_child(cfg, "setns_init")
    pid = None
    try:
        try:
            container.cgroups.apply(stage1)
        except RuncError as e:
            raise RuncError(f"unable to join cgroups of container {container.id}: {e}") from None
        chan.send("go")
        pid = chan.expect("pid")["pid"]
        if pid != stage1:
            reap(stage1)
        set_rlimits(pid, process.get("rlimits"))
        chan.send("go")
        chan.expect("exec")
        failure = chan.recv()  # nothing more (the pipe closes on execve) unless execve failed
        if failure is not None:
            raise RuncError(failure.get("msg", "exec failed"))
    except BaseException as e:
        kill_quietly(pid, stage1)
        reap(stage1)
        if isinstance(e, RuncError):
            raise RuncError(f"unable to start container process: {e}") from None
        raise
    finally:
        chan.close()
        if cfg.console is not None:
            cfg.console.close()
    if pid_file:
        from corelib.runc.process import write_pid_file

        write_pid_file(pid_file, pid)
    if detach:
        return 0
    from corelib.runc.commands.run import receive_master

    master = receive_master(foreground_console)
    if master is None:
        from corelib.runc.process import forward_and_wait

        return forward_and_wait(pid)
    import threading

    from corelib.runc import console
    from corelib.runc.container import proc_stat
    from corelib.runc.process import forward_and_wait

    pump = threading.Thread(target=console.pump, args=(master, lambda: proc_stat(pid) is not None), daemon=True)
    pump.start()
    status = forward_and_wait(pid)
    pump.join(timeout=2)
    return status
