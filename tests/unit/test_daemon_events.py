"""The event log: Docker's message shape, both filter forms, the replay buffer, since/until."""

from __future__ import annotations

import asyncio

import pytest

from corelib import errdefs
from corelib.daemon.events import EventFilter, Events, make_event, parse_timestamp
from corelib.daemon.server.httputils import parse_filters

CID = "6bfb8f28bb64c9bfa493f7366fd83284a688295694299ceebb24279cffa717b2"


def test_container_event_has_the_legacy_fields():
    event = make_event("container", "die", CID, {"exitCode": "0", "image": "busybox:local", "name": "ev20"},
                       1795983782667576899)
    assert event == {
        "status": "die", "id": CID, "from": "busybox:local", "Type": "container", "Action": "die",
        "Actor": {"ID": CID, "Attributes": {"exitCode": "0", "image": "busybox:local", "name": "ev20"}},
        "scope": "local", "time": 1795983782, "timeNano": 1795983782667576899}
    image = make_event("image", "tag", "sha256:98", {"name": "tagged:ev20"}, 1)
    assert "from" not in image and image["status"] == "tag"


def _events() -> list[dict]:
    return [make_event("container", "start", CID, {"image": "busybox:local", "name": "ev20", "foo": "bar"}),
            make_event("container", "die", CID, {"image": "busybox:local", "name": "ev20", "exitCode": "0"}),
            make_event("container", "start", "ab" * 32, {"image": "alpine:3.10", "name": "other"}),
            make_event("image", "tag", "sha256:98", {"name": "busybox:local"}),
            make_event("container", "exec_start: sh -c true", CID, {"image": "busybox:local", "name": "ev20"})]


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"container":{"ev20":true},"event":{"start":true},"type":{"container":true}}', [0]),  # CLI 20.10 form
    ('{"container": ["pyatt", "ev20"], "event": ["start", "die"]}', [0, 1]),  # docker-py form
    ('{"container":["6bfb8f"]}', [0, 1, 4]),  # an ID prefix
    ('{"image":["busybox"]}', [0, 1, 3, 4]),  # tag stripped, image events too
    ('{"label":["foo=bar"]}', [0]),
    ('{"label":["foo"],"event":["die"]}', []),
    ('{"type":["image"]}', [3]),
    ('{"event":["exec_start"]}', [4]),
    ('', [0, 1, 2, 3, 4]),
])
def test_filters(raw, expected):
    event_filter = EventFilter(parse_filters(raw))
    assert [i for i, e in enumerate(_events()) if event_filter.match(e)] == expected


def test_replay_buffer_keeps_the_last_256_and_subscribers_get_what_follows():
    async def scenario() -> None:
        clock = iter(range(1, 10_000))
        events = Events(clock=lambda: next(clock))
        for i in range(300):
            events.log("container", "start", f"c{i}", {})
        past, queue = events.subscribe(since_ns=0, until_ns=None)
        assert len(past) == 256 and past[0]["id"] == "c44"
        assert events.subscribe(None, None)[0] == []  # neither since nor until: no replay
        assert [e["id"] for e in events.subscribe(since_ns=290, until_ns=295)[0]] == [f"c{i}" for i in range(289, 295)]
        events.log("container", "die", "c1", {})
        assert (await queue.get())["Action"] == "die"
        events.unsubscribe(queue)
        assert events.listeners == 2

    asyncio.run(scenario())


def test_timestamps():
    assert parse_timestamp("") is None
    assert parse_timestamp("1795983755") == 1795983755_000000000
    assert parse_timestamp("1795983755.5") == 1795983755_500000000
    with pytest.raises(errdefs.WhaleError) as raised:
        parse_timestamp("abc")
    assert str(raised.value) == 'strconv.ParseInt: parsing "abc": invalid syntax'
