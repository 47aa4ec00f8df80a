"""A busybox root filesystem built from the host's static busybox (Debian's busybox-static).

Every test container runs on it, and the image layer turns it into the `busybox:latest` image when
no registry is reachable.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

HOST_BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""

GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:
audio:x:29:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
"""

DIRECTORIES = ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "home", "tmp", "var/spool/mail",
               "var/www", "proc", "sys", "dev")


class BusyboxNotFound(RuntimeError):
    pass


def find_host_busybox() -> str:
    for candidate in HOST_BUSYBOX_CANDIDATES:
        if os.access(candidate, os.X_OK) and _is_static(candidate):
            return candidate
    raise BusyboxNotFound("no static busybox on this host: install Debian's busybox-static")


def _is_static(path: str) -> bool:
    """True for an ELF executable with no program interpreter (PT_INTERP), i.e. statically linked."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit ELF only
            return False
        order = "<" if header[5] == 1 else ">"
        phoff, = struct.unpack_from(order + "Q", header, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", header, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    return all(struct.unpack_from(order + "I", table, i * phentsize)[0] != pt_interp for i in range(phnum))


def applets(busybox: str) -> list[str]:
    """Paths (relative to /) of every applet this busybox was built with."""
    out = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def build_busybox_rootfs(dest: str | os.PathLike[str], busybox: str | None = None) -> Path:
    """Create a root filesystem at `dest`: /bin/busybox, every applet linked, /etc/passwd and
    /etc/group, and the mount points /proc, /sys, /dev, /tmp."""
    busybox = busybox or find_host_busybox()
    root = Path(dest)
    for d in DIRECTORIES:
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    os.chmod(root / "root", 0o700)
    shutil.copy2(busybox, root / "bin/busybox")
    for applet in applets(busybox):
        link = root / applet
        if applet == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath("/bin/busybox", "/" + os.path.dirname(applet)))
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    (root / "etc/hostname").write_text("busybox\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    (root / "etc/resolv.conf").write_text("")
    return root
