"""`exec`: a new process in a running container, from `--process FILE` or from the container's own
process spec with the given args and overrides; in the foreground unless `--detach`."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = "<container-id> <command> [command options]  || -p process.json <container-id>"
ARGS = (1, None)
REORDER = False
FLAGS = (
    Flag("console-socket", str, "", "path to an AF_UNIX socket which will receive the pty master"),
    Flag("cwd", str, "", "current working directory in the container"),
    Flag("env, e", list, None, "set environment variables"),
    Flag("tty, t", bool, None, "allocate a pseudo-TTY"),
    Flag("user, u", str, "", "UID (format: <uid>[:<gid>])"),
    Flag("additional-gids, g", list, None, "additional gids"),
    Flag("process, p", str, "", "path to the process.json"),
    Flag("detach, d", bool, False, "detach from the container's process"),
    Flag("pid-file", str, "", "specify the file to write the process id to"),
    Flag("process-label", str, "", "set the asm process label for the process commonly used with selinux"),
    Flag("apparmor", str, "", "set the apparmor profile for the process"),
    Flag("no-new-privs", bool, None, "set the no new privileges value for the process"),
    Flag("cap, c", list, None, "add a capability to the bounding set for the process"),
    Flag("preserve-fds", int, 0, "Pass N additional file descriptors to the container"),
    Flag("ignore-paused", bool, False, "allow exec in a paused container"),
)


def process_from(opts: dict, args: list[str], container) -> dict:
    import copy

    from corelib import jsonlite as json
    from corelib.runc.spec import validate_process

    if opts["process"]:
        try:
            with open(opts["process"]) as f:
                process = json.loads(f.read())
        except OSError as e:
            from corelib.runc.errors import describe

            raise RuncError(describe(e)) from None
        except ValueError as e:
            raise RuncError(f"invalid process spec: {e}") from None
        validate_process(process)
        return process
    process = copy.deepcopy(container.config["process"])
    process["args"] = args[1:]
    if opts["cwd"]:
        process["cwd"] = opts["cwd"]
    for cap in opts["cap"]:
        caps = process.setdefault("capabilities", {})
        for kind in ("bounding", "effective", "permitted", "ambient"):
            caps.setdefault(kind, []).append(cap)
    process["env"] = (process.get("env") or []) + opts["env"]
    process["terminal"] = bool(opts["tty"])
    if opts["no-new-privs"] is not None:
        process["noNewPrivileges"] = opts["no-new-privs"]
    user = process.setdefault("user", {"uid": 0, "gid": 0})
    if opts["user"]:
        uid, _, gid = opts["user"].partition(":")
        try:
            if gid:
                user["gid"] = int(gid)
            user["uid"] = int(uid)
        except ValueError:
            raise RuncError(f"parsing {gid or uid} as int for {'gid' if gid else 'uid'} failed") from None
    for gid in opts["additional-gids"]:
        if int(gid) < 0:
            raise RuncError(f"additional-gids must be a positive number {gid}")
        user.setdefault("additionalGids", []).append(int(gid))
    validate_process(process)
    return process


def run(ctx, opts: dict, args: list[str]) -> int:
    try:
        return execute(ctx, opts, args)
    except RuncError as e:
        raise RuncError(f"exec failed: {e}", code=255) from None


def execute(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.container import PAUSED, STOPPED, Container
    from corelib.runc.launch import exec_process

    container = Container.load(ctx.root, args[0])
    status = container.status()
    if status == STOPPED:
        raise RuncError("cannot exec in a stopped container")
    if status == PAUSED and not opts["ignore-paused"]:
        raise RuncError("cannot exec in a paused container (use --ignore-paused to override)")
    if not opts["process"] and len(args) == 1:
        raise RuncError("process args cannot be empty")
    process = process_from(opts, args, container)
    if process.get("terminal") and opts["detach"] and not opts["console-socket"]:
        raise RuncError("cannot allocate tty if runc will detach without setting console socket")
    if opts["console-socket"] and not process.get("terminal"):
        raise RuncError("cannot use console socket if runc will not detach or allocate tty")
    from corelib.runc.cgroups import warm_up_migrations

    warm_up_migrations()
    return exec_process(ctx, container, process, opts["console-socket"], opts["detach"], opts["pid-file"],
                        opts["preserve-fds"])
