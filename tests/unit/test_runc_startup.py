"""whale-runc's short commands import the standard library only, and not its heavier corners (`re`,
`json`, `enum`...): start-up time is what every command pays (benchmarks/runc_bench.py measures it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "corelib/runc/bin/whale-runc"
HEAVY = {"re", "json", "enum", "contextlib", "shutil", "subprocess", "socket", "selectors", "threading",
         "dataclasses", "typing", "argparse", "pathlib", "signal", "inspect"}


def imported(*args: str, tmp_path: Path) -> set[str]:
    """Modules imported by `whale-runc ARGS` beyond what the bare interpreter imports."""
    def modules(argv: list[str]) -> set[str]:
        result = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True,
                                timeout=60)
        return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}

    return modules([str(SCRIPT), "--root", str(tmp_path), *args]) - modules(["-c", "pass"])


@pytest.mark.parametrize("args", [["state", "x"], ["list"], ["kill", "x", "KILL"], ["delete", "x"], ["start", "x"],
                                  ["--log-format", "json", "state", "x"]])
def test_short_commands_stay_lean(args, tmp_path):
    modules = imported(*args, tmp_path=tmp_path)
    assert not modules & HEAVY, modules & HEAVY
    foreign = {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "corelib"}
    assert foreign == set()
    shared = {"corelib.jsonlite"}  # stdlib-only, shared with the spans of the layers above
    assert {m for m in modules if m.startswith("corelib.") and not m.startswith("corelib.runc")} <= shared


def test_cgroup_migration_warm_up_leaves_the_process_where_it_was():
    """create's warm-up moves whale-runc into the cgroup it is already in (the kernel's grace period is then
    waited out early, beside the command's own work): it must not move it anywhere else."""
    script = ("import time, corelib.runc.cgroups as c; before = open('/proc/self/cgroup').read();"
              " c.warm_up_migrations(); time.sleep(0.3); assert open('/proc/self/cgroup').read() == before")
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
