import json

from corelib.trace.span import Span
from corelib.trace.store import SPANS_FILE, SpanStore


def span(name, trace="t1", container=None, start=0, end=1):
    attributes = {"container_id": container} if container else {}
    return Span(trace, f"{name}-id", None, "daemon", name, start, end, attributes)


def test_spans_before_the_container_exists_join_it_once_named(tmp_path):
    store = SpanStore(tmp_path)
    store.add(span("runCreate"))
    store.add(span("other", trace="t2"))
    assert store.spans_of("c1") == []
    store.add(span("newContainer", container="c1"))
    store.add(span("runContainer"))
    assert [s.name for s in store.spans_of("c1")] == ["runCreate", "newContainer", "runContainer"]
    assert [s.name for s in store.trace("t2")] == ["other"]
    assert [s.name for s in store.trace("t1")] == ["runCreate", "newContainer", "runContainer"]


def test_spans_survive_a_new_store_and_a_torn_last_line(tmp_path):
    SpanStore(tmp_path).add(span("create", container="c1"))
    with open(tmp_path / "c1" / SPANS_FILE, "a") as f:
        f.write('{"trace_id": "t1", "span_')
    reopened = SpanStore(tmp_path)
    assert [s.name for s in reopened.spans_of("c1")] == ["create"]
    assert json.loads((tmp_path / "c1" / SPANS_FILE).read_text().splitlines()[0])["name"] == "create"


def test_subscribers_see_every_span_until_they_leave(tmp_path):
    store = SpanStore(tmp_path)
    seen = []
    unsubscribe = store.subscribe(seen.append)
    store.add(span("a"))
    store.add(span("b", container="c"))
    unsubscribe()
    store.add(span("c"))
    assert [s.name for s in seen] == ["a", "b"]
