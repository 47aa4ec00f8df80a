"""Linux capabilities as Docker grants them (moby's oci/caps): the default set every container gets,
`--cap-add` / `--cap-drop` (with `ALL`), and `--privileged`."""

from __future__ import annotations

from corelib import errdefs

#: Every capability, in kernel order, up to CAP_AUDIT_READ: Docker 20.10 stops there, so privileged
#: containers do not get capabilities an older runc would refuse.
ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
)

#: What an unprivileged container starts with.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

ALL = "ALL"


def available() -> list[str]:
    """The capabilities this process may hand on (its bounding set): `--privileged` and `--cap-add ALL`
    get these, so they work where the daemon itself runs with fewer than all (as containerd's
    WithAllCurrentCapabilities does)."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("CapBnd:"))
        bounding = int(line.split()[1], 16)
    except (OSError, StopIteration, ValueError):
        return list(ALL_CAPABILITIES)
    return [cap for bit, cap in enumerate(ALL_CAPABILITIES) if bounding >> bit & 1]


def normalize(caps: list[str] | None) -> list[str]:
    """`sys_admin`, `SYS_ADMIN` and `CAP_SYS_ADMIN` are one capability; `ALL` stays itself.
    An unknown name is an InvalidArgument in Docker's words."""
    normalized = []
    for cap in caps or []:
        if cap.upper() == ALL:
            normalized.append(ALL)
            continue
        name = cap.upper()
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in ALL_CAPABILITIES:
            raise errdefs.InvalidArgument(f'unknown capability: "{name}"')
        normalized.append(name)
    return normalized


def tweak_capabilities(basics: list[str] | tuple[str, ...], adds: list[str] | None, drops: list[str] | None,
                       privileged: bool) -> list[str]:
    """The capability set of a container: privileged gets them all; `--cap-add ALL` gets all but
    the dropped; `--cap-drop ALL` keeps only the added; otherwise basics - drops + adds."""
    if privileged:
        return available()
    if not adds and not drops:
        return list(basics)
    cap_drop, cap_add = normalize(drops), normalize(adds)
    if ALL in cap_add:
        return [c for c in available() if c not in cap_drop]
    if ALL in cap_drop:
        return [c for c in cap_add if c != ALL]
    caps = [c for c in basics if c not in cap_drop]
    return caps + [c for c in cap_add if c not in caps]
