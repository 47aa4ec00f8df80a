"""`create`: the container's init set up and blocked on exec.fifo; `start` releases it."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = "<container-id>"
ARGS = (1, 1)
FLAGS = (
    Flag("bundle, b", str, "", "path to the root of the bundle directory, defaults to the current directory"),
    Flag("console-socket", str, "", "path to an AF_UNIX socket which will receive a file descriptor referencing "
                                    "the master end of the console's pseudoterminal"),
    Flag("pid-file", str, "", "specify the file to write the process id to"),
    Flag("no-pivot", bool, False, "do not use pivot root to jail process inside rootfs"),
    Flag("no-new-keyring", bool, False, "do not create a new session keyring for the container"),
    Flag("preserve-fds", int, 0, "Pass N additional file descriptors to the container"),
)


def options(opts: dict, detach: bool = True):
    from corelib.runc.launch import CreateOptions

    return CreateOptions(bundle=opts["bundle"], pid_file=opts["pid-file"], console_socket=opts["console-socket"],
                         no_pivot=opts["no-pivot"], no_new_keyring=opts["no-new-keyring"],
                         preserve_fds=opts["preserve-fds"], detach=detach)


def run(ctx, opts: dict, args: list[str]) -> int:
    from corelib.runc.cgroups import warm_up_migrations

    warm_up_migrations()
    from corelib.runc.launch import create_container

    try:
        create_container(ctx, args[0], options(opts))
    except RuncError as e:
        raise RuncError(f"runc create failed: {e}") from None
    return 0
