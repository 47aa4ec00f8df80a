"""The container's Config and HostConfig as the Engine API types them (moby's api/types/container),
and a decoder that behaves like Go's encoding/json on them.

Decoding a request gives a canonical dict: every field present, in Go's order and spelling, with
Go's zero value (or null for slices, maps and pointers) when absent, `omitempty` fields only when
set; field names match case-insensitively, unknown fields are ignored, and a value of the wrong
type fails with Go's own message, e.g. `json: cannot unmarshal number into Go struct field
ContainerConfigWrapper.Cmd of type string`. The canonical dict is also what inspect shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corelib import errdefs

_GO_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


class T:
    go = ""

    def zero(self) -> object:
        return None

    def decode(self, value: object, ctx: _Ctx) -> object:
        raise NotImplementedError


@dataclass
class _Ctx:
    struct: str
    path: list[str]

    def fail(self, value: object, go_type: str) -> errdefs.WhaleError:
        kind = _GO_KIND.get(type(value), "value")
        if kind == "number" and isinstance(value, float) and go_type in _INT_TYPES:
            kind = f"number {value:g}"
        where = f"Go struct field {self.struct}.{'.'.join(self.path)}" if self.struct else "Go value"
        return errdefs.WhaleError(f"json: cannot unmarshal {kind} into {where} of type {go_type}")


_INT_TYPES = {"int", "int64", "uint16", "uint32", "uint64", "uint"}


class Scalar(T):
    def __init__(self, go: str, py: type, zero: object):
        self.go, self.py, self._zero = go, py, zero

    def zero(self) -> object:
        return self._zero

    def decode(self, value: object, ctx: _Ctx) -> object:
        if value is None:
            return self._zero
        if self.py is int:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ctx.fail(value, self.go)
            if isinstance(value, float):
                if not value.is_integer():
                    raise ctx.fail(value, self.go)
                value = int(value)
            if self.go.startswith("uint") and value < 0:
                raise ctx.fail(float(value), self.go)
            return value
        if self.py is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ctx.fail(value, self.go)
            return value
        if not isinstance(value, self.py) or (self.py is not bool and isinstance(value, bool)):
            raise ctx.fail(value, self.go)
        return value


STRING = Scalar("string", str, "")
BOOL = Scalar("bool", bool, False)
INT = Scalar("int", int, 0)
INT64 = Scalar("int64", int, 0)
UINT16 = Scalar("uint16", int, 0)
UINT32 = Scalar("uint32", int, 0)
UINT64 = Scalar("uint64", int, 0)


class Ptr(T):
    """A Go pointer: null stays null."""

    def __init__(self, elem: T):
        self.elem, self.go = elem, "*" + elem.go

    def decode(self, value: object, ctx: _Ctx) -> object:
        return None if value is None else self.elem.decode(value, ctx)


class Slice(T):
    def __init__(self, elem: T, go: str | None = None):
        self.elem, self.go = elem, go or "[]" + elem.go

    def decode(self, value: object, ctx: _Ctx) -> object:
        if value is None:
            return None
        if not isinstance(value, list):
            raise ctx.fail(value, self.go)
        return [self.elem.decode(v, ctx) for v in value]


class Map(T):
    def __init__(self, elem: T, go: str | None = None):
        self.elem, self.go = elem, go or "map[string]" + elem.go

    def decode(self, value: object, ctx: _Ctx) -> object:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ctx.fail(value, self.go)
        return {str(k): self.elem.decode(v, ctx) for k, v in value.items()}


class Empty(T):
    """struct{} (the values of a Go set like Volumes or ExposedPorts)."""

    go = "struct {}"

    def decode(self, value: object, ctx: _Ctx) -> object:
        if value is not None and not isinstance(value, dict):
            raise ctx.fail(value, self.go)
        return {}


class StrSlice(T):
    """strslice.StrSlice: a JSON string or an array of strings."""

    go = "string"

    def decode(self, value: object, ctx: _Ctx) -> object:
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ctx.fail(value if not isinstance(value, list) else next(v for v in value if not isinstance(v, str)),
                       self.go)


class Any(T):
    go = "interface {}"

    def decode(self, value: object, ctx: _Ctx) -> object:
        return value


@dataclass
class Field:
    name: str
    type: T
    omitempty: bool = False


@dataclass
class Struct(T):
    name: str
    fields: list[Field] = field(default_factory=list)
    go: str = ""

    def __post_init__(self) -> None:
        self.go = self.go or f"container.{self.name}"
        self._by_lower = {f.name.lower(): f for f in self.fields}

    def zero(self) -> object:
        return {f.name: f.type.zero() for f in self.fields if not f.omitempty}

    def decode(self, value: object, ctx: _Ctx) -> object:
        if value is None:
            return self.zero()
        if not isinstance(value, dict):
            raise ctx.fail(value, self.go)
        given: dict[str, object] = {}
        for key, v in value.items():
            f = self._by_lower.get(key.lower())
            if f is not None and (key == f.name or f.name not in given):
                given[f.name] = v
        out: dict[str, object] = {}
        for f in self.fields:
            if f.name in given:
                decoded = f.type.decode(given[f.name], _Ctx(self.name, [*ctx.path, f.name]))
                if f.omitempty and _is_empty(decoded):
                    continue
                out[f.name] = decoded
            elif not f.omitempty:
                out[f.name] = f.type.zero()
        return out


def _is_empty(value: object) -> bool:
    return value is None or value is False or value == 0 or value == "" or value == [] or value == {}


def _duration(name: str) -> Field:
    return Field(name, Scalar("time.Duration", int, 0), omitempty=True)


HEALTH_CONFIG = Struct("HealthConfig", [
    Field("Test", Slice(STRING), omitempty=True), _duration("Interval"), _duration("Timeout"),
    _duration("StartPeriod"), Field("Retries", INT, omitempty=True)])

CONFIG_FIELDS = [
    Field("Hostname", STRING), Field("Domainname", STRING), Field("User", STRING),
    Field("AttachStdin", BOOL), Field("AttachStdout", BOOL), Field("AttachStderr", BOOL),
    Field("ExposedPorts", Map(Empty(), "nat.PortSet"), omitempty=True),
    Field("Tty", BOOL), Field("OpenStdin", BOOL), Field("StdinOnce", BOOL),
    Field("Env", Slice(STRING)), Field("Cmd", StrSlice()),
    Field("Healthcheck", Ptr(HEALTH_CONFIG), omitempty=True), Field("ArgsEscaped", BOOL, omitempty=True),
    Field("Image", STRING), Field("Volumes", Map(Empty())), Field("WorkingDir", STRING),
    Field("Entrypoint", StrSlice()), Field("NetworkDisabled", BOOL, omitempty=True),
    Field("MacAddress", STRING, omitempty=True), Field("OnBuild", Slice(STRING)),
    Field("Labels", Map(STRING)), Field("StopSignal", STRING, omitempty=True),
    Field("StopTimeout", Ptr(INT), omitempty=True), Field("Shell", StrSlice(), omitempty=True),
]
CONFIG = Struct("Config", CONFIG_FIELDS)

_WEIGHT_DEVICE = Ptr(Struct("WeightDevice", [Field("Path", STRING), Field("Weight", UINT16)],
                            go="blkiodev.WeightDevice"))
_THROTTLE_DEVICE = Ptr(Struct("ThrottleDevice", [Field("Path", STRING), Field("Rate", UINT64)],
                              go="blkiodev.ThrottleDevice"))
_PORT_BINDING = Struct("PortBinding", [Field("HostIp", STRING), Field("HostPort", STRING)], go="nat.PortBinding")
MOUNT = Struct("Mount", [
    Field("Type", STRING, omitempty=True), Field("Source", STRING, omitempty=True),
    Field("Target", STRING, omitempty=True), Field("ReadOnly", BOOL, omitempty=True),
    Field("Consistency", STRING, omitempty=True),
    Field("BindOptions", Ptr(Struct("BindOptions", [Field("Propagation", STRING, omitempty=True),
                                                    Field("NonRecursive", BOOL, omitempty=True)],
                                    go="mount.BindOptions")), omitempty=True),
    Field("VolumeOptions", Ptr(Any()), omitempty=True),
    Field("TmpfsOptions", Ptr(Struct("TmpfsOptions", [Field("SizeBytes", INT64, omitempty=True),
                                                      Field("Mode", UINT32, omitempty=True)],
                                     go="mount.TmpfsOptions")), omitempty=True),
], go="mount.Mount")

RESOURCES_FIELDS = [
    Field("CpuShares", INT64), Field("Memory", INT64), Field("NanoCpus", INT64), Field("CgroupParent", STRING),
    Field("BlkioWeight", UINT16), Field("BlkioWeightDevice", Slice(_WEIGHT_DEVICE)),
    Field("BlkioDeviceReadBps", Slice(_THROTTLE_DEVICE)), Field("BlkioDeviceWriteBps", Slice(_THROTTLE_DEVICE)),
    Field("BlkioDeviceReadIOps", Slice(_THROTTLE_DEVICE)), Field("BlkioDeviceWriteIOps", Slice(_THROTTLE_DEVICE)),
    Field("CpuPeriod", INT64), Field("CpuQuota", INT64), Field("CpuRealtimePeriod", INT64),
    Field("CpuRealtimeRuntime", INT64), Field("CpusetCpus", STRING), Field("CpusetMems", STRING),
    Field("Devices", Slice(Struct("DeviceMapping", [Field("PathOnHost", STRING), Field("PathInContainer", STRING),
                                                    Field("CgroupPermissions", STRING)]))),
    Field("DeviceCgroupRules", Slice(STRING)), Field("DeviceRequests", Slice(Any())),
    Field("KernelMemory", INT64), Field("KernelMemoryTCP", INT64), Field("MemoryReservation", INT64),
    Field("MemorySwap", INT64), Field("MemorySwappiness", Ptr(INT64)), Field("OomKillDisable", Ptr(BOOL)),
    Field("PidsLimit", Ptr(INT64)),
    Field("Ulimits", Slice(Ptr(Struct("Ulimit", [Field("Name", STRING), Field("Hard", INT64), Field("Soft", INT64)],
                                      go="units.Ulimit")))),
    Field("CpuCount", INT64), Field("CpuPercent", INT64), Field("IOMaximumIOps", UINT64),
    Field("IOMaximumBandwidth", UINT64),
]

HOST_CONFIG_FIELDS = [
    Field("Binds", Slice(STRING)), Field("ContainerIDFile", STRING),
    Field("LogConfig", Struct("LogConfig", [Field("Type", STRING), Field("Config", Map(STRING))])),
    Field("NetworkMode", STRING), Field("PortBindings", Map(Slice(_PORT_BINDING), "nat.PortMap")),
    Field("RestartPolicy", Struct("RestartPolicy", [Field("Name", STRING), Field("MaximumRetryCount", INT)])),
    Field("AutoRemove", BOOL), Field("VolumeDriver", STRING), Field("VolumesFrom", Slice(STRING)),
    Field("CapAdd", StrSlice()), Field("CapDrop", StrSlice()), Field("CgroupnsMode", STRING),
    Field("Dns", Slice(STRING)), Field("DnsOptions", Slice(STRING)), Field("DnsSearch", Slice(STRING)),
    Field("ExtraHosts", Slice(STRING)), Field("GroupAdd", Slice(STRING)), Field("IpcMode", STRING),
    Field("Cgroup", STRING), Field("Links", Slice(STRING)), Field("OomScoreAdj", INT), Field("PidMode", STRING),
    Field("Privileged", BOOL), Field("PublishAllPorts", BOOL), Field("ReadonlyRootfs", BOOL),
    Field("SecurityOpt", Slice(STRING)), Field("StorageOpt", Map(STRING), omitempty=True),
    Field("Tmpfs", Map(STRING), omitempty=True), Field("UTSMode", STRING), Field("UsernsMode", STRING),
    Field("ShmSize", INT64), Field("Sysctls", Map(STRING), omitempty=True), Field("Runtime", STRING, omitempty=True),
    Field("ConsoleSize", Slice(Scalar("uint", int, 0), "[2]uint")), Field("Isolation", STRING),
    *RESOURCES_FIELDS,
    Field("Mounts", Slice(MOUNT), omitempty=True), Field("MaskedPaths", Slice(STRING)),
    Field("ReadonlyPaths", Slice(STRING)), Field("Init", Ptr(BOOL), omitempty=True),
]
HOST_CONFIG = Struct("HostConfig", HOST_CONFIG_FIELDS)

NETWORKING_CONFIG = Struct("NetworkingConfig", [Field("EndpointsConfig", Map(Ptr(Any())))],
                           go="network.NetworkingConfig")

CREATE_BODY = Struct("ContainerConfigWrapper", [
    *CONFIG_FIELDS,
    Field("HostConfig", Ptr(HOST_CONFIG)),
    Field("NetworkingConfig", Ptr(NETWORKING_CONFIG)),
])


def decode_create_body(body: object) -> tuple[dict, dict, dict]:
    """POST /containers/create's body -> (Config, HostConfig, NetworkingConfig), canonical."""
    if not isinstance(body, dict):
        raise _Ctx("", []).fail(body, "container.ContainerConfigWrapper")
    wrapper = CREATE_BODY.decode(body, _Ctx("ContainerConfigWrapper", []))
    assert isinstance(wrapper, dict)
    host = wrapper.pop("HostConfig") or HOST_CONFIG.zero()
    networking = wrapper.pop("NetworkingConfig") or NETWORKING_CONFIG.zero()
    return wrapper, host, networking


def decode(struct: Struct, value: object) -> dict:
    result = struct.decode(value, _Ctx(struct.name, []))
    assert isinstance(result, dict)
    return result
