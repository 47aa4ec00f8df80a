"""A container's state machine (moby's container/state.go), sans I/O.

    created --start--> running --exit--> exited --start--> running ...
                       running <--> paused        running --exit+policy--> restarting --> running
    any --rm--> removing --> (removed)            a failed removal --> dead

Waiters (`docker wait`, the CLI's `wait?condition=...`) are plain callbacks resolved by the
transitions, so the async layer decides how to wake its tasks; time comes from the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"

NOT_RUNNING = "not-running"
NEXT_EXIT = "next-exit"
REMOVED = "removed"
CONDITIONS = (NOT_RUNNING, NEXT_EXIT, REMOVED)

#: A waiter receives (exit code, error message or "").
Waiter = Callable[[int, str], None]


def format_time(ts: datetime | None) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    if ts is None:
        return ZERO_TIME
    ts = ts.astimezone(UTC)
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ts.microsecond:06d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def format_time_ns(ns: int) -> str:
    """RFC3339Nano from Unix nanoseconds, keeping nanosecond precision."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


@dataclass
class State:
    Running: bool = False
    Paused: bool = False
    Restarting: bool = False
    OOMKilled: bool = False
    RemovalInProgress: bool = False
    Dead: bool = False
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = ZERO_TIME
    FinishedAt: str = ZERO_TIME
    _waiters: list[tuple[str, Waiter]] = field(default_factory=list, repr=False)
    removed: bool = field(default=False, repr=False)

    # -- views ---------------------------------------------------------------------------------

    def status(self) -> str:
        """moby's StateString: what inspect and `ps` filters call the state."""
        if self.Running:
            if self.Paused:
                return "paused"
            if self.Restarting:
                return "restarting"
            return "running"
        if self.RemovalInProgress:
            return "removing"
        if self.Dead:
            return "dead"
        if self.StartedAt == ZERO_TIME:
            return "created"
        return "exited"

    def to_json(self) -> dict:
        return {"Status": self.status(), "Running": self.Running, "Paused": self.Paused,
                "Restarting": self.Restarting, "OOMKilled": self.OOMKilled, "Dead": self.Dead, "Pid": self.Pid,
                "ExitCode": self.ExitCode, "Error": self.Error, "StartedAt": self.StartedAt,
                "FinishedAt": self.FinishedAt}

    @classmethod
    def from_json(cls, data: dict) -> State:
        state = cls()
        for name in ("Running", "Paused", "Restarting", "OOMKilled", "RemovalInProgress", "Dead", "Pid",
                     "ExitCode", "Error", "StartedAt", "FinishedAt"):
            if name in data:
                setattr(state, name, data[name])
        return state

    # -- transitions ---------------------------------------------------------------------------

    def set_running(self, pid: int, now: str, initial: bool = True) -> None:
        self.Error = ""
        self.Running = True
        self.Restarting = False
        self.Paused = False
        self.ExitCode = 0
        self.Pid = pid
        if initial:
            self.StartedAt = now

    def set_stopped(self, exit_code: int, now: str, oom_killed: bool = False) -> None:
        self._exited(exit_code, now, oom_killed, restarting=False)

    def set_restarting(self, exit_code: int, now: str, oom_killed: bool = False) -> None:
        """An exit the restart policy answers with a restart: still `Running` for docker's purposes,
        but waiters for the exit are told about it."""
        self._exited(exit_code, now, oom_killed, restarting=True)

    def _exited(self, exit_code: int, now: str, oom_killed: bool, restarting: bool) -> None:
        self.Running = self.Restarting = restarting
        self.Paused = False
        self.Pid = 0
        self.FinishedAt = now
        self.ExitCode = exit_code
        self.OOMKilled = oom_killed
        self._notify((NOT_RUNNING, NEXT_EXIT))

    def set_error(self, message: str) -> None:
        self.Error = message

    def set_exit_code(self, code: int) -> None:
        self.ExitCode = code

    def set_paused(self, paused: bool) -> None:
        self.Paused = paused

    def set_removal_in_progress(self) -> bool:
        """False when a removal is already under way."""
        if self.RemovalInProgress:
            return False
        self.RemovalInProgress = True
        return True

    def reset_removal_in_progress(self) -> None:
        self.RemovalInProgress = False

    def set_dead(self) -> None:
        self.Dead = True

    def set_removed(self, error: str = "") -> None:
        """The container is gone (or its removal failed with `error`): wake every waiter."""
        self.Error = error
        self.removed = not error
        self._notify(CONDITIONS)

    # -- waiting -------------------------------------------------------------------------------

    def wait(self, condition: str, waiter: Waiter) -> bool:
        """Register `waiter` for `condition` (unknown conditions mean not-running); returns True when
        it was answered at once (not-running on a container that is not running)."""
        if condition not in CONDITIONS:
            condition = NOT_RUNNING
        if condition == NOT_RUNNING and not self.Running:
            waiter(self.ExitCode, self.Error)
            return True
        self._waiters.append((condition, waiter))
        return False

    def cancel_wait(self, waiter: Waiter) -> None:
        self._waiters = [(c, w) for c, w in self._waiters if w is not waiter]

    def _notify(self, conditions: tuple[str, ...]) -> None:
        # Removal wakes everyone: a container removed while created never stops.
        ready = [(c, w) for c, w in self._waiters if c in conditions or self.removed]
        self._waiters = [(c, w) for c, w in self._waiters if (c, w) not in ready]
        for _, waiter in ready:
            waiter(self.ExitCode, self.Error)
