"""The flags of `run` and `create` and `parse`, which turns them into the body of POST /containers/create
(Config with HostConfig and NetworkingConfig inside), as docker/cli's opts.go does."""

from __future__ import annotations

import json
import os

from corelib.client.cli.flags import FlagSet, Options
from corelib.gounits import ram_in_bytes


class ParseError(ValueError):
    pass


def validate_env(value: str) -> str:
    """opts.ValidateEnv: `K=V` as is; a bare `K` takes this process's value when it has one."""
    key, eq, _ = value.partition("=")
    if not key:
        raise ValueError(f"invalid environment variable: {value}")
    if eq:
        return value
    return f"{key}={os.environ[key]}" if key in os.environ else value


def mem_bytes(value: str) -> int:
    return ram_in_bytes(value)


def mem_swap_bytes(value: str) -> int:
    return -1 if value == "-1" else ram_in_bytes(value)


def nano_cpus(value: str) -> int:
    """opts.NanoCPUs: a rational number of CPUs, in billionths."""
    from fractions import Fraction

    try:
        cpus = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {value} as a rational number") from None
    nano = cpus * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def validate_attach(value: str) -> str:
    if value.lower() not in ("stdin", "stdout", "stderr"):
        raise ValueError("valid streams are STDIN, STDOUT and STDERR")
    return value.lower()


def add_flags(fs: FlagSet) -> None:
    """The container flags shared by run and create (a subset of docker's, with its names)."""
    fs.list("attach", "a", "Attach to STDIN, STDOUT or STDERR", convert=validate_attach)
    fs.list("env", "e", "Set environment variables", convert=validate_env)
    fs.list("env-file", help="Read in a file of environment variables")
    fs.string("entrypoint", help="Overwrite the default ENTRYPOINT of the image")
    fs.list("group-add", help="Add additional groups to join")
    fs.string("hostname", "h", "Container host name")
    fs.string("domainname", help="Container NIS domain name")
    fs.bool("interactive", "i", "Keep STDIN open even if not attached", dest="stdin")
    fs.list("label", "l", "Set meta data on a container")
    fs.list("label-file", help="Read in a line delimited file of labels")
    fs.bool("read-only", help="Mount the container's root filesystem as read only")
    fs.string("restart", help="Restart policy to apply when a container exits", default="no")
    fs.string("stop-signal", help="Signal to stop the container")
    fs.int("stop-timeout", help="Timeout (in seconds) to stop a container", min_api="1.25")
    fs.list("sysctl", help="Sysctl options")
    fs.bool("tty", "t", "Allocate a pseudo-TTY")
    fs.string("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])")
    fs.string("workdir", "w", "Working directory inside the container")
    fs.bool("rm", help="Automatically remove the container and its associated anonymous volumes when it exits")
    fs.list("cap-add", help="Add Linux capabilities")
    fs.list("cap-drop", help="Drop Linux capabilities")
    fs.bool("privileged", help="Give extended privileges to this container")
    fs.list("security-opt", help="Security Options")
    fs.string("userns", help="User namespace to use")
    fs.string("cgroupns", help="Cgroup namespace to use (host|private)", min_api="1.41")
    fs.list("add-host", help="Add a custom host-to-IP mapping (host:ip)")
    fs.list("dns", help="Set custom DNS servers")
    fs.list("dns-option", help="Set DNS options")
    fs.list("dns-search", help="Set custom DNS search domains")
    fs.string("network", help="Connect a container to a network", dest="network")
    fs.string("net", help="Connect a container to a network", dest="network", hidden=True)
    fs.string("log-driver", help="Logging driver for the container")
    fs.list("log-opt", help="Log driver options")
    fs.list("tmpfs", help="Mount a tmpfs directory")
    fs.list("volume", "v", "Bind mount a volume")
    fs.int("cpu-shares", "c", "CPU shares (relative weight)")
    fs.value("cpus", help="Number of CPUs", convert=nano_cpus, default=0, type_name="decimal", min_api="1.25")
    fs.string("cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    fs.value("memory", "m", "Memory limit", convert=mem_bytes, default=0, type_name="bytes")
    fs.value("memory-reservation", help="Memory soft limit", convert=mem_bytes, default=0, type_name="bytes")
    fs.value("memory-swap", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
             convert=mem_swap_bytes, default=0, type_name="bytes")
    fs.int("oom-score-adj", help="Tune host's OOM preferences (-1000 to 1000)")
    fs.int("pids-limit", help="Tune container pids limit (set -1 for unlimited)")
    fs.string("ipc", help="IPC mode to use")
    fs.string("pid", help="PID namespace to use")
    fs.string("uts", help="UTS namespace to use")
    fs.value("shm-size", help="Size of /dev/shm", convert=mem_bytes, default=0, type_name="bytes")
    fs.string("runtime", help="Runtime to use for this container")
    fs.bool("init", help="Run an init inside the container that forwards signals and reaps processes",
            min_api="1.25")


def read_kv_file(path: str, env_lookup: bool) -> list[str]:
    """opts' parseKeyValueFile: `K=V` lines, `#` comments; a bare `K` takes this process's value
    (an env file) or is dropped when it has none."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ParseError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
    out = []
    for _n, raw in enumerate(lines, 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if any(c.isspace() for c in key):
            raise ParseError(f"variable '{key}' contains whitespaces")
        if not key:
            raise ParseError(f"no variable name on line '{line}'")
        if eq:
            out.append(f"{key}={value}")
        elif env_lookup and line.strip() in os.environ:
            out.append(f"{line.strip()}={os.environ[line.strip()]}")
        elif not env_lookup:
            out.append(line)
    return out


def parse_security_opts(opts: list[str]) -> list[str]:
    result = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise ParseError(f'Invalid --security-opt: "{opt}"')
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            try:
                with open(value, "rb") as f:
                    profile = json.loads(f.read())
            except OSError as e:
                raise ParseError(f"opening seccomp profile ({value}) failed: open {value}: "
                                 f"{(e.strerror or str(e)).lower()}") from None
            except ValueError as e:
                raise ParseError(f"compacting json for seccomp profile ({value}) failed: {e}") from None
            opt = "seccomp=" + json.dumps(profile, separators=(",", ":"))
        result.append(opt)
    return result


def parse_volumes(specs: list[str]) -> tuple[list[str] | None, dict[str, dict]]:
    """Binds (`/host:/ctr[:ro]`, `name:/ctr`) and anonymous volumes (`/ctr`)."""
    binds: list[str] = []
    volumes: dict[str, dict] = {}
    for spec in specs:
        if not spec:
            raise ParseError("invalid empty volume spec")
        parts = spec.split(":")
        if len(parts) > 3:
            raise ParseError(f"invalid spec: {spec}: too many colons")
        if len(parts) == 1:
            volumes[spec] = {}
            continue
        host = parts[0]
        if host.startswith(".") and not os.path.isabs(host):
            host = os.path.abspath(host)
        binds.append(":".join([host, *parts[1:]]))
    return binds or None, volumes


def restart_policy(policy: str) -> dict:
    """opts.ParseRestartPolicy: `name[:max-retries]`; the daemon validates the name."""
    name, colon, count = policy.partition(":")
    if colon and not name:
        raise ParseError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError:
            raise ParseError("invalid restart policy format: maximum retry count must be an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def normalize_capability(cap: str) -> str:
    cap = cap.strip().upper()
    return cap if cap in ("ALL", "RESET") or cap.startswith("CAP_") else "CAP_" + cap


def effective_caps(add: list[str], drop: list[str]) -> tuple[list[str], list[str]]:
    """opts.EffectiveCapAddCapDrop: normalised (CAP_ prefix), ALL trumps the rest, adding wins over
    dropping, sorted, without duplicates."""
    add_set = {normalize_capability(c) for c in add}
    drop_set = {normalize_capability(c) for c in drop}
    add_set = {"ALL"} if "ALL" in add_set else add_set
    drop_set = {"ALL"} if "ALL" in drop_set else drop_set
    return sorted(add_set - {"RESET"}), sorted(drop_set - add_set - {"RESET"})


def kv_map(items: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, _, value = item.partition("=")
        result[key] = value
    return result


def parse(opts: Options, image: str, args: list[str]) -> dict:
    """docker's parse(): flags -> the create request (Config, HostConfig, NetworkingConfig)."""
    attach = set(opts.attach)
    attach_stdin = "stdin" in attach or opts.stdin
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach
    binds, volumes = parse_volumes(opts.volume)
    env = [line for path in opts.env_file for line in read_kv_file(path, env_lookup=True)] + opts.env
    labels = [line for path in opts.label_file for line in read_kv_file(path, env_lookup=False)] + opts.label
    entrypoint = [opts.entrypoint] if opts.entrypoint else ([""] if "entrypoint" in opts.changed else None)
    policy = restart_policy(opts.restart)
    if opts.rm and policy["Name"] not in ("", "no"):
        raise ParseError("conflicting options: cannot specify both --restart and --rm")
    security_opt = parse_security_opts(opts.security_opt)
    masked = readonly = None
    if "systempaths=unconfined" in security_opt:
        security_opt = [o for o in security_opt if o != "systempaths=unconfined"]
        masked, readonly = [], []
    log_opts = kv_map(opts.log_opt)
    cap_add, cap_drop = effective_caps(opts.cap_add, opts.cap_drop)
    config = {
        "Hostname": opts.hostname, "Domainname": opts.domainname, "User": opts.user,
        "AttachStdin": attach_stdin, "AttachStdout": attach_stdout, "AttachStderr": attach_stderr,
        "Tty": opts.tty, "OpenStdin": opts.stdin, "StdinOnce": bool(opts.stdin and attach_stdin),
        "Env": env or None, "Cmd": args or None, "Image": image, "Volumes": volumes,
        "WorkingDir": opts.workdir, "Entrypoint": entrypoint, "OnBuild": None, "Labels": kv_map(labels),
    }
    if opts.stop_signal:
        config["StopSignal"] = opts.stop_signal
    if "stop-timeout" in opts.changed:
        config["StopTimeout"] = opts.stop_timeout
    host_config = {
        "Binds": binds, "ContainerIDFile": "", "LogConfig": {"Type": opts.log_driver, "Config": log_opts},
        "NetworkMode": opts.network or "default", "PortBindings": {}, "RestartPolicy": policy,
        "AutoRemove": opts.rm, "VolumeDriver": "", "VolumesFrom": None,
        "CapAdd": cap_add or None, "CapDrop": cap_drop or None, "CgroupnsMode": opts.cgroupns,
        "Dns": opts.dns, "DnsOptions": opts.dns_option, "DnsSearch": opts.dns_search,
        "ExtraHosts": opts.add_host or None, "GroupAdd": opts.group_add or None, "IpcMode": opts.ipc,
        "Cgroup": "", "Links": None, "OomScoreAdj": opts.oom_score_adj, "PidMode": opts.pid,
        "Privileged": opts.privileged, "PublishAllPorts": False, "ReadonlyRootfs": opts.read_only,
        "SecurityOpt": security_opt or None, "UTSMode": opts.uts, "UsernsMode": opts.userns,
        "ShmSize": opts.shm_size, "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": opts.cpu_shares,
        "Memory": opts.memory, "NanoCpus": opts.cpus, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": opts.cpuset_cpus, "CpusetMems": "",
        "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0,
        "KernelMemoryTCP": 0, "MemoryReservation": opts.memory_reservation, "MemorySwap": opts.memory_swap,
        "MemorySwappiness": -1, "OomKillDisable": False, "PidsLimit": opts.pids_limit, "Ulimits": [],
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": masked, "ReadonlyPaths": readonly,
    }
    if opts.tmpfs:
        host_config["Tmpfs"] = {k: v for k, _, v in (t.partition(":") for t in opts.tmpfs)}
    if opts.sysctl:
        host_config["Sysctls"] = kv_map(opts.sysctl)
    if opts.runtime:
        host_config["Runtime"] = opts.runtime
    if "init" in opts.changed:
        host_config["Init"] = opts.init
    return {**config, "HostConfig": host_config, "NetworkingConfig": {"EndpointsConfig": {}}}
