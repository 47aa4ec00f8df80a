"""Networking of a container (moby's container_operations.go, reduced): `none`, `host` and
`container:<id>` as in Docker; until a bridge network exists, `default` and `bridge` give the
container a private network namespace with only its loopback, which create says in a warning.

initializeNetworking also writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf,
bind-mounted by the spec, or takes those of the host or of the container whose network it joins.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from corelib import errdefs
from corelib.daemon.container.container import Container, atomic_write

BRIDGE_WARNING = ("whaled has no bridge network yet: the container gets a private network namespace with only a "
                  "loopback interface (use --network host for the host's network)")
DEFAULT_DNS = ("8.8.8.8", "8.8.4.4")
HOSTS_DEFAULT = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                 "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
_LOCALHOST_NS = re.compile(r"^\s*nameserver\s+(127\.\d+\.\d+\.\d+|::1)\s*$")


def network_mode(host_config: dict) -> str:
    return host_config.get("NetworkMode") or "default"


def is_private(mode: str) -> bool:
    return mode not in ("host", "none") and not mode.startswith("container:")


def network_name(mode: str) -> str:
    """The name Docker shows in NetworkSettings.Networks."""
    return "bridge" if mode == "default" else mode


def validate_network_mode(mode: str) -> list[str]:
    """Create's warnings for a network mode (a network we do not have fails at start, as in dockerd)."""
    if mode in ("default", "bridge"):
        return [BRIDGE_WARNING]
    if mode.startswith("container:") and not mode.split(":", 1)[1]:
        raise errdefs.InvalidArgument("Invalid network mode: invalid container format container:<name|id>")
    return []


def network_settings(mode: str, sandbox_key: str = "") -> dict:
    networks = {}
    if not mode.startswith("container:"):
        networks[network_name(mode)] = {
            "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "", "EndpointID": "", "Gateway": "",
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "", "DriverOpts": None}
    return {"Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SandboxKey": sandbox_key, "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": networks}


def resolv_conf(host_text: str, dns: list[str], search: list[str], options: list[str]) -> str:
    """The container's resolv.conf: the host's without loopback nameservers (unreachable from a
    private namespace), Google's when none is left, or what --dns/--dns-search/--dns-option say."""
    lines = [line for line in host_text.splitlines() if not _LOCALHOST_NS.match(line)]
    if dns:
        lines = [line for line in lines if not line.strip().startswith("nameserver")]
        lines += [f"nameserver {ns}" for ns in dns]
    elif not any(line.strip().startswith("nameserver") for line in lines):
        lines += [f"nameserver {ns}" for ns in DEFAULT_DNS]
    if search:
        lines = [line for line in lines if not line.strip().startswith(("search", "domain"))]
        lines.append("search " + " ".join(search))
    if options:
        lines = [line for line in lines if not line.strip().startswith("options")]
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def hosts_file(hostname: str, domainname: str, extra_hosts: list[str], address: str = "") -> str:
    text = HOSTS_DEFAULT
    for entry in extra_hosts:
        name, _, ip = entry.partition(":")
        text += f"{ip}\t{name}\n"
    if address:
        fqdn = f"{hostname}.{domainname}" if domainname else hostname
        text += f"{address}\t{fqdn}" + (f" {hostname}" if domainname else "") + "\n"
    return text


class NetworkMixin:
    def getNetworkedContainer(self, container: Container, mode: str) -> Container:
        target = self.GetContainer(mode.split(":", 1)[1])
        if target.ID == container.ID:
            raise errdefs.InvalidArgument("cannot join own network")
        if not target.is_running():
            raise errdefs.Conflict(f"cannot join network of a non running container: {target.ID}")
        if target.is_paused():
            raise errdefs.Conflict(f"cannot join network of a paused container: {target.ID}")
        return target

    async def initializeNetworking(self, container: Container) -> None:
        mode = network_mode(container.HostConfig)
        if mode not in ("default", "bridge", "host", "none") and not mode.startswith("container:"):
            raise errdefs.NotFound(f"network {mode} not found")
        if mode.startswith("container:"):
            target = self.getNetworkedContainer(container, mode)
            container.HostnamePath = target.HostnamePath
            container.HostsPath = target.HostsPath
            container.ResolvConfPath = target.ResolvConfPath
            container.Config["Hostname"] = target.Config.get("Hostname", "")
            container.Config["Domainname"] = target.Config.get("Domainname", "")
            container.NetworkSettings = network_settings(mode, f"/proc/{target.State.Pid}/ns/net")
            return
        self._write_network_files(container, mode)
        sandbox = "/proc/1/ns/net" if mode == "host" else ""
        container.NetworkSettings = network_settings(mode, sandbox)

    def _write_network_files(self, container: Container, mode: str) -> None:
        root = container.root
        hostname = container.Config.get("Hostname", "") or socket.gethostname()
        host = container.HostConfig
        container.HostnamePath = str(root / "hostname")
        container.HostsPath = str(root / "hosts")
        container.ResolvConfPath = str(root / "resolv.conf")
        atomic_write(Path(container.HostnamePath), (hostname + "\n").encode(), 0o644, sync=False)
        if mode == "host":
            hosts = _read("/etc/hosts") + "".join(f"{e.partition(':')[2]}\t{e.partition(':')[0]}\n"
                                                   for e in host.get("ExtraHosts") or [])
            resolv = _read("/etc/resolv.conf")
        else:
            hosts = hosts_file(hostname, container.Config.get("Domainname", ""), host.get("ExtraHosts") or [])
            resolv = resolv_conf(_read("/etc/resolv.conf"), host.get("Dns") or [], host.get("DnsSearch") or [],
                                 host.get("DnsOptions") or [])
        atomic_write(Path(container.HostsPath), hosts.encode(), 0o644, sync=False)
        atomic_write(Path(container.ResolvConfPath), resolv.encode(), 0o644, sync=False)

    def network_namespace_path(self, container: Container) -> str | None:
        """None: no network namespace in the spec (host); "": a new one; else the path to join."""
        mode = network_mode(container.HostConfig)
        if mode == "host":
            return None
        if mode.startswith("container:"):
            return container.NetworkSettings.get("SandboxKey", "")
        return ""


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def host_hostname() -> str:
    return os.uname().nodename
