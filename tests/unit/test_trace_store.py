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


def test_a_batch_is_one_append_per_container(tmp_path, monkeypatch):
    store = SpanStore(tmp_path)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    store.add_all([span("runCreate"), span("newContainer", container="c1"), span("other", trace="t2", container="c2"),
                   span("runContainer")])
    assert sorted(p.rsplit("/", 2)[-2] for p in opened) == ["c1", "c2"]
    assert [s.name for s in store.spans_of("c1")] == ["runCreate", "newContainer", "runContainer"]


def test_the_daemon_stores_later_unless_someone_follows_live(tmp_path):
    import asyncio

    from corelib.daemon.tracing import FLUSH_DELAY, LIVE_FLUSH_DELAY, Collector

    async def delay_of(collector: Collector) -> float:
        collector.add(span("containerStart", container="c1"))
        delay = collector._flushing.when() - asyncio.get_running_loop().time()
        collector.flush()
        return delay

    collector = Collector(tmp_path)
    assert LIVE_FLUSH_DELAY < asyncio.run(delay_of(collector)) <= FLUSH_DELAY
    unsubscribe = collector.store.subscribe(lambda s: None)
    assert asyncio.run(delay_of(collector)) <= LIVE_FLUSH_DELAY
    unsubscribe()
    assert [s.name for s in collector.store.spans_of("c1")] == ["containerStart", "containerStart"]
