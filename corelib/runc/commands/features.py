"""`features`: what this runtime implements, in runc's JSON shape."""

USAGE = ""
ARGS = (0, 0)


def features() -> dict:
    from corelib.runc import seccomp
    from corelib.runc.capabilities import NAMES
    from corelib.runc.spec import EXTENSIONS, MOUNT_FLAGS, NAMESPACES, PROPAGATION, RECURSIVE_ATTRS

    libseccomp = seccomp.version()
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2-dev",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted({*MOUNT_FLAGS, *PROPAGATION, *RECURSIVE_ATTRS, *EXTENSIONS}),
        "linux": {
            "namespaces": sorted(NAMESPACES),
            "capabilities": list(NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {
                "enabled": bool(libseccomp),
                "actions": sorted(seccomp.ACTIONS),
                "operators": sorted(seccomp.OPERATORS),
                "archs": sorted(seccomp.ARCHES),
            },
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {
            "io.github.seccomp.libseccomp.version": libseccomp,
            "org.opencontainers.runc.checkpoint.enabled": "false",
            "org.opencontainers.runc.commit": "whalebone",
            "org.opencontainers.runc.version": "1.1.5+whalebone",
        },
    }


def run(ctx, opts: dict, args: list[str]) -> int:
    import sys

    from corelib import jsonlite as json

    sys.stdout.write(json.dumps(features(), indent=4) + "\n")
    return 0
