"""The container state machine and restart manager, sans I/O."""

from __future__ import annotations

import pytest

from corelib.daemon.container.restartmanager import RestartManager
from corelib.daemon.container.state import NEXT_EXIT, NOT_RUNNING, REMOVED, State, format_time_ns

T0, T1 = "2026-11-29T20:20:54.373429759Z", "2026-11-29T20:20:55Z"


def test_status_follows_the_transitions():
    state = State()
    assert state.status() == "created"
    state.set_running(42, T0)
    assert (state.status(), state.Pid, state.StartedAt) == ("running", 42, T0)
    state.set_paused(True)
    assert state.status() == "paused"
    state.set_paused(False)
    state.set_restarting(1, T1)
    assert state.status() == "restarting" and state.Running
    state.set_running(43, T1, initial=False)
    assert state.StartedAt == T0 and state.status() == "running"
    state.set_stopped(137, T1)
    assert (state.status(), state.ExitCode, state.Pid, state.FinishedAt) == ("exited", 137, 0, T1)
    assert state.set_removal_in_progress() and not state.set_removal_in_progress()
    assert state.status() == "removing"
    state.reset_removal_in_progress()
    state.set_dead()
    assert state.status() == "dead"


def test_json_round_trip():
    state = State()
    state.set_running(7, T0)
    copy = State.from_json(state.to_json())
    assert copy.to_json() == state.to_json()
    assert list(state.to_json())[:2] == ["Status", "Running"]


def test_not_running_is_answered_at_once_when_stopped():
    state = State()
    got = []
    assert state.wait(NOT_RUNNING, lambda code, err: got.append(code))
    assert got == [0]


def test_waiters_wake_on_their_condition():
    state = State()
    state.set_running(1, T0)
    got: dict[str, list] = {NOT_RUNNING: [], NEXT_EXIT: [], REMOVED: []}
    for condition in got:
        state.wait(condition, lambda code, err, c=condition: got[c].append(code))
    state.set_stopped(3, T1)
    assert got == {NOT_RUNNING: [3], NEXT_EXIT: [3], REMOVED: []}
    state.set_removed()
    assert got[REMOVED] == [3]


def test_a_restart_wakes_exit_waiters_and_removal_wakes_everyone():
    state = State()
    state.set_running(1, T0)
    seen = []
    state.wait(NEXT_EXIT, lambda code, err: seen.append(("exit", code)))
    state.set_restarting(2, T1)
    assert seen == [("exit", 2)]
    created = State()
    created.wait("bogus-condition-means-not-running", lambda code, err: seen.append(("now", code)))
    assert seen[-1] == ("now", 0)
    waiting = State()
    waiting.set_running(1, T0)
    waiting.wait(NOT_RUNNING, lambda code, err: seen.append(("removed", err)))
    waiting.set_removed("boom")
    assert seen[-1] == ("removed", "boom")


def test_cancelled_waiter_is_never_called():
    state = State()
    state.set_running(1, T0)
    calls = []

    def waiter(code: int, err: str) -> None:
        calls.append(code)

    state.wait(NEXT_EXIT, waiter)
    state.cancel_wait(waiter)
    state.set_stopped(0, T1)
    assert calls == []


def test_nanosecond_times_keep_gos_format():
    assert format_time_ns(1795983782479277062) == "2026-11-29T20:23:02.479277062Z"
    assert format_time_ns(1795983782000000000) == "2026-11-29T20:23:02Z"
    assert format_time_ns(1795983782370000000) == "2026-11-29T20:23:02.37Z"


@pytest.mark.parametrize(("policy", "codes", "manual", "restarts"), [
    ({"Name": "no"}, [1], False, [False]),
    ({"Name": ""}, [1], False, [False]),
    ({"Name": "always"}, [0, 1], False, [True, True]),
    ({"Name": "unless-stopped"}, [0], True, [False]),
    ({"Name": "unless-stopped"}, [0], False, [True]),
    ({"Name": "on-failure"}, [0, 1], False, [False, True]),
    ({"Name": "on-failure", "MaximumRetryCount": 2}, [1, 1, 1], False, [True, True, False]),
])
def test_restart_policies(policy, codes, manual, restarts):
    manager = RestartManager()
    manager.set_policy(policy)
    assert [manager.should_restart(code, manual, 0)[0] for code in codes] == restarts


def test_restart_delay_doubles_and_resets_after_a_long_run():
    manager = RestartManager()
    manager.set_policy({"Name": "always"})
    delays = [manager.should_restart(1, False, 0)[1] for _ in range(5)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert manager.should_restart(1, False, 11)[1] == 0.1
    for _ in range(20):
        manager.should_restart(1, False, 0)
    assert manager.should_restart(1, False, 0)[1] == 60.0
    manager.cancel()
    assert manager.should_restart(1, False, 0) == (False, 0.0)
