"""containerd's filter syntax, and the event envelope adaptor the exchange matches subscriptions with."""

from __future__ import annotations

import pytest

from corelib.api.containerd.events.task_pb2 import TaskExit
from corelib.containerd import filters
from corelib.containerd.events.exchange import Exchange, adapt_envelope
from corelib.errdefs import InvalidArgument

OBJECT = {("name",): "foo", ("labels", "a.b"): "c", ("labels", "role"): "db", ("image",): "docker.io/busybox:1"}


def adaptor(path: list[str]) -> str | None:
    if path and path[0] == "labels":
        return OBJECT.get(("labels", ".".join(path[1:])))
    return OBJECT.get(tuple(path))


@pytest.mark.parametrize(("text", "matches"), [
    ("", True),
    ("name==foo", True),
    ("name==bar", False),
    ("name!=bar", True),
    ("missing!=x", True),
    ("labels.role", True),
    ("labels.other", False),
    ('labels."a.b"==c', True),
    ("name==foo,labels.role==db", True),
    ("name==foo,labels.role==web", False),
    ("image~=|^docker.io/|", True),
    ("image~=/busybox:[0-9]+$/", True),
    ("image~=^registry", False),
    ("image==docker.io/busybox:1", True),
    ("  name == foo ", True),
])
def test_selectors(text, matches):
    assert filters.parse_all([text]).match(adaptor) is matches


def test_several_filters_match_when_any_does():
    assert filters.parse_all(["name==bar", "labels.role==db"]).match(adaptor)
    assert not filters.parse_all(["name==bar", "labels.role==web"]).match(adaptor)


@pytest.mark.parametrize("text", ["name==", "name=foo", "name===foo", "==foo", "name==foo,", "labels.", 'name=="open',
                                  "name==foo bar", "image~=|^docker\\.io/|"])
def test_syntax_errors_are_invalid_argument_in_containerds_words(text):
    with pytest.raises(InvalidArgument) as e:
        filters.parse_all([text])
    assert str(e.value).startswith(f"filters: parse error: [{text}]: ")
    assert str(e.value).endswith(": invalid argument")


def test_quoted_values_unescape():
    parsed = filters.parse_all(['name=="f\\x6fo"'])
    assert parsed.match(adaptor)


def test_envelopes_match_on_namespace_topic_and_event_fields():
    exchange = Exchange()
    envelope = exchange.publish("moby", "/tasks/exit", TaskExit(container_id="c1", id="c1", exit_status=3))
    docker = filters.parse_all(["namespace==moby,topic~=|^/tasks/|"])
    assert docker.match(adapt_envelope(envelope))
    assert not filters.parse_all(["namespace==plugins.moby,topic~=|^/tasks/|"]).match(adapt_envelope(envelope))
    assert filters.parse_all(["event.container_id==c1"]).match(adapt_envelope(envelope))
    assert not filters.parse_all(["event.exit_status==3"]).match(adapt_envelope(envelope))  # numbers: not adapted
    assert envelope.event.type_url == "containerd.events.TaskExit"


def test_forwarded_envelopes_are_validated():
    from corelib.api.containerd.services.events.v1.events_pb2 import Envelope

    exchange = Exchange()
    with pytest.raises(InvalidArgument, match="timestamp must be set"):
        exchange.forward(Envelope(namespace="moby", topic="/tasks/exit"))
    with pytest.raises(InvalidArgument, match="must start with '/'"):
        exchange.publish("moby", "tasks/exit", TaskExit())
    with pytest.raises(InvalidArgument, match="invalid namespace"):
        exchange.forward(Envelope(namespace="bad ns", topic="/x"))
