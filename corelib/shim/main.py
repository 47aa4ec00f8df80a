"""containerd-shim-whale-v2: the shim v2 binary for runtime io.containerd.whale.v2.

    containerd-shim-whale-v2 -namespace NS -address ADDR -publish-binary BIN -id ID [-debug] start
    containerd-shim-whale-v2 -namespace NS -address ADDR -publish-binary BIN -id ID -bundle B delete
    containerd-shim-whale-v2 -namespace NS -id ID -address ADDR [-debug]          (the server itself)

Flags are parsed as Go's flag package does (-name value, -name=value, bools alone), since that
is how containerd words them. Each action imports only what it needs: the server stays small.
"""

from __future__ import annotations

import os
import sys

NAME = "containerd-shim-whale-v2"
VERSION = "1.6.20+whalebone"
STRING_FLAGS = ("namespace", "id", "socket", "bundle", "address", "publish-binary")
BOOL_FLAGS = ("debug", "v")


class FlagError(Exception):
    pass


def parse_flags(args: list[str]) -> tuple[dict[str, str | bool], str]:
    flags: dict[str, str | bool] = {name: "" for name in STRING_FLAGS}
    flags.update({name: False for name in BOOL_FLAGS})
    flags["publish-binary"] = "containerd"
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, has_value, value = arg.lstrip("-").partition("=")
        if name in BOOL_FLAGS:
            flags[name] = value.lower() in ("1", "t", "true") if has_value else True
        elif name in STRING_FLAGS:
            if not has_value:
                i += 1
                if i >= len(args):
                    raise FlagError(f"flag needs an argument: -{name}")
                value = args[i]
            flags[name] = value
        else:
            raise FlagError(f"flag provided but not defined: -{name}")
        i += 1
    return flags, args[i] if i < len(args) else ""


def main(argv: list[str] | None = None) -> int:
    if argv is None and "WHALE_STANDBY_FD" in os.environ:  # started ahead of its task (corelib/standby.py)
        from corelib.shim import manager

        manager.standby()
    try:
        flags, action = parse_flags(sys.argv[1:] if argv is None else argv)
    except FlagError as e:
        print(e, file=sys.stderr)
        return 2
    if flags["v"]:
        print(f"{NAME}:\n  Version:  {VERSION}\n  Python: {sys.version.split()[0]}\n")
        return 0
    if not flags["namespace"]:
        print(f"{NAME}: shim namespace cannot be empty", file=sys.stderr)
        return 1
    try:
        return run(action, flags)
    except Exception as e:  # noqa: BLE001 - containerd shows whatever the shim printed
        sys.stderr.write(f"{NAME}: {e}")
        return 1


def run(action: str, flags: dict) -> int:
    from corelib.shim import leanproto

    leanproto.install()  # before any generated module is imported
    if action == "start":
        from corelib.shim import manager

        address = manager.start(flags["namespace"], flags["id"], flags["address"], flags["debug"])
        exit_now(address.encode())
    if action == "delete":
        from corelib.shim import cleanup

        exit_now(cleanup.delete(flags["namespace"], flags["id"], flags["bundle"]))
    if action:
        raise ValueError(f"unknown action {action!r}")
    from corelib.shim.shim import serve

    return serve(flags["namespace"], flags["id"], flags["socket"], flags["debug"])


def exit_now(output: bytes) -> None:
    """Print what containerd reads and exit at once, as the Go shim does: containerd waits for this
    process, and the interpreter's teardown of what the action imported would only add to that wait."""
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
