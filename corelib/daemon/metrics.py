"""The daemon's one metric the seed names: `containerActions{action}` (moby's engine_daemon_container_
actions_seconds), the time each create, start, delete... took."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Timer:
    count: int = 0
    total_seconds: float = 0.0


@dataclass
class ContainerActions:
    timers: dict[str, Timer] = field(default_factory=dict)

    def update_since(self, action: str, started: float) -> None:
        """Record an action that began at `started` (time.monotonic())."""
        timer = self.timers.setdefault(action, Timer())
        timer.count += 1
        timer.total_seconds += time.monotonic() - started
