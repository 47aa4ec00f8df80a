"""runc's libcontainer/userns: whether this process runs in a user namespace (as root of one, the
rootless case runc calls "euid=0 in a userns")."""

IDENTITY = ["0", "0", "4294967295"]


def running_in_user_ns() -> bool:
    """The uid map is not the initial namespace's identity map. Read each time: a container's init
    asks after it may have entered a user namespace of its own."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != IDENTITY
    except OSError:
        return False
