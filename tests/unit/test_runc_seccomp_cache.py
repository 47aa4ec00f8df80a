"""whale-runc's cache of compiled seccomp programs (corelib/runc/seccomp.py): one file per profile, the
same bytes for the same profile, and only the newest CACHE_ENTRIES kept."""

from __future__ import annotations

import os

import pytest

from corelib.runc import seccomp


def profile(errno: int) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno}]}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    try:
        seccomp.library()
    except Exception as e:  # noqa: BLE001 - whatever ctypes raises for a missing library
        pytest.skip(f"libseccomp is not installed: {e}")
    monkeypatch.setattr(seccomp, "cache_dir", lambda: str(tmp_path))
    return tmp_path


def test_a_profile_is_compiled_once_and_read_back(cache):
    first = seccomp.program(profile(1))
    assert os.listdir(cache) == [os.path.basename(seccomp.cache_path(profile(1)))]
    assert len(first) % 8 == 0 and first == seccomp.compile_program(profile(1))
    assert seccomp.program(profile(1)) == first
    assert seccomp.program(profile(2)) != first


def test_only_the_newest_programs_are_kept(cache, monkeypatch):
    monkeypatch.setattr(seccomp, "CACHE_ENTRIES", 3)
    paths = []
    for errno in range(1, 6):
        seccomp.program(profile(errno))
        paths.append(seccomp.cache_path(profile(errno)))
        os.utime(paths[-1], ns=(errno * 10**9, errno * 10**9))  # distinct ages, whatever the clock's resolution
    assert sorted(os.listdir(cache)) == sorted(os.path.basename(p) for p in paths[-3:])
