"""`whale create`: runCreate > parse > validateAPIVersion > createContainer [> pullImage > createContainer]."""

from __future__ import annotations

import re

from corelib.client.cli.command import Cli, CommandSpec, StatusError, with_help
from corelib.client.cli.container import opts as copts
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.errors import APIError

PULL_ALWAYS, PULL_MISSING, PULL_NEVER = "always", "missing", "never"
_PLAIN_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")


def add_create_flags(fs: FlagSet) -> None:
    """The flags create and run share beyond the container's own (docker's createOptions)."""
    fs.string("name", help="Assign a name to the container")
    fs.string("platform", help="Set platform if server is multi-platform capable", min_api="1.32")
    fs.string("pull", help='Pull image before creating ("always", "missing", "never")', default=PULL_MISSING)
    fs.bool("quiet", "q", "Suppress the pull output")
    copts.add_flags(fs)


def flags(fs: FlagSet) -> None:
    fs.bool("help", help="Print usage")  # no -h: that is --hostname
    add_create_flags(fs)


def run_create(cli: Cli, opts: Options, args: list[str]) -> None:
    container_config = prepare(cli, opts, args, "create")
    cli.out.println(create_container(cli, container_config, opts))


def prepare(cli: Cli, opts: Options, args: list[str], command: str) -> dict:
    """runCreate's first steps, shared with runRun: the pull option, proxies from the CLI config file
    into the environment, parse, validateAPIVersion."""
    if opts.pull not in (PULL_ALWAYS, PULL_MISSING, PULL_NEVER):
        raise StatusError(125, with_help(f"invalid pull option: '{opts.pull}': must be one of "
                                         '"always", "missing" or "never"', command))
    opts.env = proxy_env(cli, opts.env)
    try:
        container_config = copts.parse(opts, args[0], args[1:])
    except ValueError as e:
        raise StatusError(125, with_help(str(e), command)) from None
    with cli.span("validateAPIVersion"):
        validate_api_version(cli, opts, command)
    return container_config


def proxy_env(cli: Cli, env: list[str]) -> list[str]:
    """The proxies of the CLI config file for this daemon, added unless already set (a bare name
    stays bare)."""
    as_map: dict[str, str | None] = {}
    for item in env:
        key, eq, value = item.partition("=")
        as_map[key] = value if eq else None
    merged = cli.config_file.parse_proxy_config(cli.daemon_host, as_map)
    return [key if value is None else f"{key}={value}" for key, value in merged.items()]


def validate_api_version(cli: Cli, opts: Options, command: str) -> None:
    """Refuse flags newer than the negotiated API version (docker's "version" flag annotations)."""
    from corelib.client.api.client import version_tuple

    version = cli.client.api_version
    for flag in opts.flags():
        if flag.min_api and flag.name in opts.changed and version_tuple(version) < version_tuple(flag.min_api):
            raise StatusError(125, with_help(f'"--{flag.name}" requires API version {flag.min_api}, but the '
                                             f"Docker daemon API version is {version}", command))


def pull_image(cli: Cli, image: str, opts: Options) -> None:
    """createContainer's pullImage: POST /images/create, progress on stderr (none with -q)."""
    from corelib.client.cli.image.pull import pull_reference
    from corelib.client.cli.streams import discard

    out = discard() if opts.quiet else cli.err
    with cli.span("pullImage", image=image):
        pull_reference(cli, image, out, opts.platform)


def named_reference(image: str) -> object | None:
    from corelib.client.cli import refs

    return refs.named_reference(image)


def create_container(cli: Cli, container_config: dict, opts: Options) -> str:
    """ContainerCreate; when the image is missing, say so, pull it and create again."""
    with cli.span("createContainer"):
        return _create_container(cli, container_config, opts)


def _create_container(cli: Cli, container_config: dict, opts: Options) -> str:
    image = container_config["Image"]
    # The full reference parser (and its import) is needed only for names that are not plainly valid
    # ("busybox", "busybox:1.36"): those are validated up front, as docker does; the rest when a pull is due.
    named = None if _PLAIN_NAME.match(image) else named_reference(image)
    if opts.pull == PULL_ALWAYS:
        pull_image(cli, container_config["Image"], opts)
    if container_config.get("Tty"):
        h, w = cli.out.tty_size()
        container_config["HostConfig"]["ConsoleSize"] = [h, w]
    try:
        response = cli.client.create_container(container_config, opts.name, opts.platform or None)
    except APIError as e:
        if e.is_not_found and _PLAIN_NAME.match(image):
            named = named_reference(image)
        if not (e.is_not_found and named is not None and opts.pull == PULL_MISSING):
            raise
        if not opts.quiet:
            cli.err.println(f"Unable to find image '{named.familiar_string()}' locally")
        pull_image(cli, container_config["Image"], opts)
        response = cli.client.create_container(container_config, opts.name, opts.platform or None)
    for warning in response.get("Warnings") or []:
        cli.err.println(f"WARNING: {warning}")
    return response["Id"]


COMMAND = CommandSpec(
    name="create", use="create [OPTIONS] IMAGE [COMMAND] [ARG...]", short="Create a new container",
    run=run_create, flags=flags, args=("min", 1), interspersed=False,
)
