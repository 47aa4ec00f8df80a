"""The daemon's event log (moby's daemon/events): every container and image action, kept in a
replay buffer of the last 256 for `since`, and published to every `GET /events` subscriber.

An event is the Engine API's JSON message, legacy fields included:
{"status":"die","id":ID,"from":"busybox","Type":"container","Action":"die",
 "Actor":{"ID":ID,"Attributes":{"exitCode":"0","image":"busybox","name":"n"}},
 "scope":"local","time":S,"timeNano":NS}
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

from corelib import errdefs

BUFFER_SIZE = 256
EVENT_FILTERS = {"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope",
                 "secret", "service", "type", "volume"}

Event = dict


def make_event(event_type: str, action: str, actor_id: str, attributes: dict[str, str],
               now_ns: int | None = None) -> Event:
    now_ns = time.time_ns() if now_ns is None else now_ns
    event: Event = {}
    if event_type == "container":
        event.update(status=action, id=actor_id, **({"from": attributes["image"]} if "image" in attributes else {}))
    elif event_type == "image":
        event.update(status=action, id=actor_id)
    event.update(Type=event_type, Action=action, Actor={"ID": actor_id, "Attributes": dict(sorted(attributes.items()))},
                 scope="local", time=now_ns // 1_000_000_000, timeNano=now_ns)
    return event


class EventFilter:
    """moby's events.Filter: keys AND together, values of one key OR."""

    def __init__(self, filters: dict[str, set[str]]):
        self.filters = filters

    def match(self, event: Event) -> bool:
        attrs = event["Actor"]["Attributes"]
        return (self._exact("type", event["Type"])
                and self._exact("scope", event.get("scope", "local"))
                and self._match_event(event["Action"])
                and self._match_actor(event, "container", "container")
                and self._match_image(event)
                and all(self._match_actor(event, kind, kind)
                        for kind in ("network", "volume", "plugin", "daemon", "node", "service", "secret", "config"))
                and self._match_labels(attrs))

    def _exact(self, key: str, value: str) -> bool:
        wanted = self.filters.get(key)
        return not wanted or value in wanted

    def _match_event(self, action: str) -> bool:
        wanted = self.filters.get("event")
        if not wanted:
            return True
        # exec_start: sh -c ... is matched by its verb
        return action in wanted or action.split(":", 1)[0] in wanted

    def _fuzzy(self, key: str, value: str) -> bool:
        return any(value == w or value.startswith(w) for w in self.filters.get(key, ()))

    def _match_actor(self, event: Event, key: str, event_type: str) -> bool:
        if not self.filters.get(key):
            return True
        if event["Type"] != event_type:
            return False
        actor = event["Actor"]
        return self._fuzzy(key, actor["ID"]) or self._fuzzy(key, actor["Attributes"].get("name", ""))

    def _match_image(self, event: Event) -> bool:
        wanted = self.filters.get("image")
        if not wanted:
            return True
        attrs = event["Actor"]["Attributes"]
        if event["Type"] == "image":
            names = [event["Actor"]["ID"], attrs.get("name", "")]
        elif event["Type"] == "container":
            names = [attrs.get("image", "")]
        else:
            return False
        candidates = set()
        for name in names:
            candidates.add(name)
            if ":" in name.rsplit("/", 1)[-1]:
                candidates.add(name.rsplit(":", 1)[0])
        return bool(candidates & wanted)

    def _match_labels(self, attrs: dict[str, str]) -> bool:
        for wanted in self.filters.get("label", ()):
            key, eq, value = wanted.partition("=")
            if key not in attrs or (eq and attrs[key] != value):
                return False
        return True


class Events:
    def __init__(self, buffer_size: int = BUFFER_SIZE, clock: Callable[[], int] = time.time_ns):
        self._buffer: collections.deque[Event] = collections.deque(maxlen=buffer_size)
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._clock = clock

    def log(self, event_type: str, action: str, actor_id: str, attributes: dict[str, str]) -> Event:
        event = make_event(event_type, action, actor_id, attributes, self._clock())
        self._buffer.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)
        return event

    def subscribe(self, since_ns: int | None, until_ns: int | None) -> tuple[list[Event], asyncio.Queue[Event]]:
        """The buffered events in [since, until] and a queue of everything logged from now on."""
        past = [] if since_ns is None and until_ns is None else [
            e for e in self._buffer
            if (since_ns is None or e["timeNano"] >= since_ns) and (until_ns is None or e["timeNano"] <= until_ns)]
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        return past, queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._subscribers)


def parse_timestamp(value: str) -> int | None:
    """`since`/`until` as Unix nanoseconds: the API takes Unix seconds or `seconds.nanoseconds` (the
    CLI converts durations and dates); errors read like Go's strconv."""
    if value == "":
        return None
    seconds, _, frac = value.partition(".")
    try:
        whole = int(seconds)
    except ValueError:
        raise errdefs.WhaleError(f'strconv.ParseInt: parsing "{seconds}": invalid syntax') from None
    nanos = 0
    if frac:
        if not frac.isdigit():
            raise errdefs.WhaleError(f'strconv.ParseInt: parsing "{frac}": invalid syntax')
        nanos = int((frac + "000000000")[:9])
    return whole * 1_000_000_000 + nanos
