"""`whale version`: this client's version and the daemon's, as docker lays them out."""

from __future__ import annotations

import os
import sys

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.formatter.tabwriter import TabWriter

VERSION = "0.1.0"
PLATFORM_NAME = "Whalebone"


def arch() -> str:
    machine = os.uname().machine  # what platform.machine() says, without importing platform
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def client_version(cli: Cli) -> dict:
    from corelib.client.api.client import API_VERSION

    try:
        api_version = cli.client.api_version
    except Exception:  # noqa: BLE001 - docker still prints the client part without a daemon
        api_version = API_VERSION
    return {"Platform": {"Name": PLATFORM_NAME}, "Version": VERSION, "ApiVersion": api_version,
            "DefaultAPIVersion": API_VERSION, "GitCommit": "", "GoVersion": f"python{sys.version.split()[0]}",
            "Os": sys.platform.rstrip("0123456789") or "linux", "Arch": arch(), "BuildTime": "",
            "Context": "default"}


def reformat_date(value: str) -> str:
    """RFC 3339 build times shown as Go's time.ANSIC ("Mon Jan  2 15:04:05 2006")."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%a %b ") + f"{moment.day:2d}" + moment.strftime(" %H:%M:%S %Y")


def pretty_version(client: dict, server: dict | None) -> str:
    lines = [f"Client: {client['Platform']['Name']}",
             f" Version:\t{client['Version']}",
             f" API version:\t{client['ApiVersion']}" + (
                 f" (downgraded from {client['DefaultAPIVersion']})"
                 if client["ApiVersion"] != client["DefaultAPIVersion"] else ""),
             f" Python version:\t{client['GoVersion'].removeprefix('python')}",
             f" OS/Arch:\t{client['Os']}/{client['Arch']}",
             f" Context:\t{client['Context']}"]
    if server is not None:
        name = (server.get("Platform") or {}).get("Name", "")
        lines += ["", "Server:" + (f" {name}" if name else "")]
        for component in server["Components"]:
            details = component.get("Details") or {}
            lines.append(f" {component['Name']}:")
            if component["Name"] == "Engine":
                lines += [f"  Version:\t{component.get('Version', '')}",
                          f"  API version:\t{details.get('ApiVersion', '')} "
                          f"(minimum version {details.get('MinAPIVersion', '')})",
                          f"  Go version:\t{details.get('GoVersion', '')}",
                          f"  Git commit:\t{details.get('GitCommit', '')}",
                          f"  Built:\t{details.get('BuildTime', '')}",
                          f"  OS/Arch:\t{details.get('Os', '')}/{details.get('Arch', '')}",
                          f"  Experimental:\t{details.get('Experimental', '')}"]
            else:
                lines.append(f"  Version:\t{component.get('Version', '')}")
                lines += [f"  {key}:\t{details[key]}" for key in sorted(details)]
    tw = TabWriter(20, 1, 1)
    tw.write("\n".join(lines) + "\n")
    return tw.flush()


def server_components(server: dict) -> list[dict]:
    """The server's components, the Engine's build time as docker shows it (and the Engine made up
    from the top-level fields when a daemon lists no components)."""
    components = list(server.get("Components") or [])
    for component in components:
        details = component.get("Details") or {}
        if component.get("Name") == "Engine" and "BuildTime" in details:
            details["BuildTime"] = reformat_date(details["BuildTime"])
    if not any(c.get("Name") == "Engine" for c in components):
        components.append({"Name": "Engine", "Version": server.get("Version", ""), "Details": {
            "ApiVersion": server.get("ApiVersion", ""), "MinAPIVersion": server.get("MinAPIVersion", ""),
            "GitCommit": server.get("GitCommit", ""), "GoVersion": server.get("GoVersion", ""),
            "Os": server.get("Os", ""), "Arch": server.get("Arch", ""),
            "BuildTime": reformat_date(server.get("BuildTime", "")),
            "Experimental": str(bool(server.get("Experimental"))).lower()}})
    return components


def flags(fs: FlagSet) -> None:
    fs.string("format", "f", "Format output using a custom template")


def run_version(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.cli.formatter import format_template

    template = format_template(opts.format) if opts.format else None
    client = client_version(cli)
    server, error = None, None
    try:
        server = cli.client.version()
    except Exception as e:  # noqa: BLE001 - the client part is printed all the same
        error = e
    else:
        server["Components"] = server_components(server)
    if template is None:
        cli.out.write(pretty_version(client, server))
    else:
        cli.out.write(template.execute({"Client": client, "Server": server}) + "\n")
    if error is not None:
        raise StatusError(1, str(error))


COMMAND = CommandSpec(name="version", use="version [OPTIONS]", short="Show the Docker version information",
                      run=run_version, flags=flags, args=("none",))
