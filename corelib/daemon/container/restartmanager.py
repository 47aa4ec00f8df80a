"""Restart policies (moby's restartmanager), sans I/O: whether an exit is answered by a restart,
and after how long (100 ms, doubling each time, at most a minute; back to 100 ms after a run of
10 s or more)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT = 0.1
MAX_TIMEOUT = 60.0
BACKOFF = 2


@dataclass
class RestartManager:
    name: str = "no"
    maximum_retry_count: int = 0
    restart_count: int = 0
    timeout: float = 0.0
    canceled: bool = False

    def set_policy(self, policy: dict) -> None:
        self.name = policy.get("Name") or "no"
        self.maximum_retry_count = policy.get("MaximumRetryCount", 0)

    def should_restart(self, exit_code: int, manually_stopped: bool, ran_for: float) -> tuple[bool, float]:
        """(restart?, delay in seconds) for an exit with `exit_code` after `ran_for` seconds."""
        if self.canceled:
            return False, 0.0
        if ran_for >= 10:
            self.timeout = 0.0
        self.timeout = DEFAULT_TIMEOUT if self.timeout == 0 else min(self.timeout * BACKOFF, MAX_TIMEOUT)
        if self.name == "always":
            restart = True
        elif self.name == "unless-stopped":
            restart = not manually_stopped
        elif self.name == "on-failure":
            restart = exit_code != 0 and (self.maximum_retry_count == 0
                                          or self.restart_count < self.maximum_retry_count)
        else:
            restart = False
        if not restart:
            return False, 0.0
        self.restart_count += 1
        return True, self.timeout

    def cancel(self) -> None:
        self.canceled = True
