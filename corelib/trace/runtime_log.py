"""How an OCI runtime reports its phase timings: extra lines in its JSON log (`--log-format json`), which
the real containerd-shim-runc-v2 ignores (it reads only `level: error` lines) and ours turns into spans.

    {"level":"debug","msg":"phase","phase":"pivot_root","start_ns":..,"end_ns":..,"time":".."}
"""

from __future__ import annotations

from corelib import jsonlite

PHASE_MSG = "phase"


def phase_record(name: str, start_ns: int, end_ns: int) -> dict[str, object]:
    return {"level": "debug", "msg": PHASE_MSG, "phase": name, "start_ns": start_ns, "end_ns": end_ns}


def parse_phases(log_text: str) -> list[tuple[str, int, int]]:
    """(phase, start_ns, end_ns) for every phase line in a runtime's JSON log; other lines are skipped."""
    phases = []
    for line in log_text.splitlines():
        if f'"{PHASE_MSG}"' not in line:
            continue
        try:
            entry = jsonlite.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == PHASE_MSG and isinstance(entry.get("start_ns"), int):
            phases.append((str(entry.get("phase")), entry["start_ns"], int(entry.get("end_ns", 0))))
    return phases
