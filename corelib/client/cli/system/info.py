"""`whale info`: the daemon's system-wide information, in docker info's layout."""

from __future__ import annotations

import base64

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options
from corelib.gounits import bytes_size


def go_bool(value: object) -> str:
    return "true" if value else "false"


def security_options(options: list[str]) -> list[str]:
    lines = []
    for opt in options:
        fields = dict(kv.partition("=")[::2] for kv in opt.split(","))
        lines.append(f"  {fields.get('name', opt)}")
        if "profile" in fields:
            lines.append(f"   Profile: {fields['profile']}")
    return lines


def cidr(entry: str | dict) -> str:
    """An insecure registry CIDR: dockerd sends "127.0.0.0/8"; a raw net.IPNet has a base64 mask."""
    if isinstance(entry, str):
        return entry
    mask = base64.b64decode(entry.get("Mask") or "")
    return f"{entry.get('IP', '')}/{sum(bin(b).count('1') for b in mask)}"


def server_lines(info: dict) -> list[str]:
    def nonempty(label: str, value: object) -> list[str]:
        return [f" {label} {value}"] if value not in (None, "") else []

    plugins = info.get("Plugins") or {}
    out = [f" Containers: {info.get('Containers', 0)}", f"  Running: {info.get('ContainersRunning', 0)}",
           f"  Paused: {info.get('ContainersPaused', 0)}", f"  Stopped: {info.get('ContainersStopped', 0)}",
           f" Images: {info.get('Images', 0)}"]
    out += nonempty("Server Version:", info.get("ServerVersion"))
    out += nonempty("Storage Driver:", info.get("Driver"))
    out += [f"  {k}: {v}" for k, v in info.get("DriverStatus") or []]
    out += [f" {k}: {v}" for k, v in info.get("SystemStatus") or []]
    out += nonempty("Logging Driver:", info.get("LoggingDriver"))
    out += nonempty("Cgroup Driver:", info.get("CgroupDriver"))
    out += nonempty("Cgroup Version:", info.get("CgroupVersion"))
    out += [" Plugins:", f"  Volume: {' '.join(plugins.get('Volume') or [])}",
            f"  Network: {' '.join(plugins.get('Network') or [])}"]
    if plugins.get("Authorization"):
        out.append(f"  Authorization: {' '.join(plugins['Authorization'])}")
    out.append(f"  Log: {' '.join(plugins.get('Log') or [])}")
    out.append(f" Swarm: {(info.get('Swarm') or {}).get('LocalNodeState', '')}")
    if info.get("Runtimes"):
        out += [f" Runtimes: {' '.join(sorted(info['Runtimes']))}",
                f" Default Runtime: {info.get('DefaultRuntime', '')}"]
    if info.get("OSType") == "linux":
        out += [f" Init Binary: {info.get('InitBinary', '')}",
                f" containerd version: {(info.get('ContainerdCommit') or {}).get('ID', '')}",
                f" runc version: {(info.get('RuncCommit') or {}).get('ID', '')}",
                f" init version: {(info.get('InitCommit') or {}).get('ID', '')}"]
        if info.get("SecurityOptions"):
            out += [" Security Options:", *security_options(info["SecurityOptions"])]
    out += nonempty("Kernel Version:", info.get("KernelVersion"))
    out += nonempty("Operating System:", info.get("OperatingSystem"))
    out += nonempty("OSType:", info.get("OSType"))
    out += nonempty("Architecture:", info.get("Architecture"))
    out += [f" CPUs: {info.get('NCPU', 0)}", f" Total Memory: {bytes_size(info.get('MemTotal') or 0)}"]
    out += nonempty("Name:", info.get("Name"))
    out += nonempty("ID:", info.get("ID"))
    out += [f" Docker Root Dir: {info.get('DockerRootDir', '')}", f" Debug Mode: {go_bool(info.get('Debug'))}"]
    if info.get("Debug"):
        out += [f"  File Descriptors: {info.get('NFd', 0)}", f"  Goroutines: {info.get('NGoroutines', 0)}",
                f"  System Time: {info.get('SystemTime', '')}",
                f"  EventsListeners: {info.get('NEventsListener', 0)}"]
    out += nonempty("HTTP Proxy:", info.get("HttpProxy"))
    out += nonempty("HTTPS Proxy:", info.get("HttpsProxy"))
    out += nonempty("No Proxy:", info.get("NoProxy"))
    if info.get("Labels"):
        out += [" Labels:", *(f"  {label}" for label in info["Labels"])]
    out.append(f" Experimental: {go_bool(info.get('ExperimentalBuild'))}")
    registry = info.get("RegistryConfig") or {}
    if registry.get("InsecureRegistryCIDRs") or registry.get("IndexConfigs"):
        out.append(" Insecure Registries:")
        out += [f"  {c.get('Name', '')}" for c in (registry.get("IndexConfigs") or {}).values()
                if not c.get("Secure")]
        out += [f"  {cidr(c)}" for c in registry.get("InsecureRegistryCIDRs") or []]
    if registry.get("Mirrors"):
        out += [" Registry Mirrors:", *(f"  {m}" for m in registry["Mirrors"])]
    out.append(f" Live Restore Enabled: {go_bool(info.get('LiveRestoreEnabled'))}")
    if info.get("ProductLicense"):
        out.append(f" Product License: {info['ProductLicense']}")
    return out


def flags(fs: FlagSet) -> None:
    fs.string("format", "f", "Format output using a custom template")


def run_info(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.cli.system.version import PLATFORM_NAME, VERSION

    if opts.format:
        from corelib.client.cli.formatter import format_template

        cli.out.write(format_template(opts.format).execute(cli.client.info()) + "\n")
        return
    cli.out.write(f"Client: {PLATFORM_NAME}\n Version:    {VERSION}\n Context:    default\n Debug Mode: false\n\n"
                  "Server:\n")
    try:
        info = cli.client.info()
    except Exception as e:  # noqa: BLE001 - docker shows the client part, then the error
        cli.err.println(f"ERROR: {e}")
        raise StatusError(1, "errors pretty printing info") from None
    cli.out.write("\n".join(server_lines(info)) + "\n\n")
    for warning in info.get("Warnings") or []:
        cli.err.println(warning)


COMMAND = CommandSpec(name="info", use="info [OPTIONS]", short="Display system-wide information",
                      run=run_info, flags=flags, args=("none",))
