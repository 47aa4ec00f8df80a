"""The magics, widgets and DataFrames through a real kernel, against the real dockerd 20.10 (until
whaled runs end to end): what a notebook's cells print, return, and leave in the widgets' state."""

from __future__ import annotations

import json

import pytest

from tests.integration.nbext.harness import (
    Kernel,
    displayed_models,
    execute,
    notebook,
    result_text,
    texts,
    widget_states,
)

TABLE, TIMELINE, EVENTS = (f"nbext.widget_{m}" for m in ("table.ContainerTable", "timeline.Timeline",
                                                          "events.EventLog"))


def test_magics_widgets_and_frames_in_a_notebook(whale_host, tmp_path):
    nb = execute(notebook(
        "%load_ext nbext",
        "table = nbext.table(); table",
        "log = nbext.event_log(); log",
        "%container run --rm --name nb-k1 --network none busybox sh -c 'echo out; echo err >&2; exit 3'",
        "%%container run --name nb-k2 --network none busybox\necho \"from the cell\"\nuname -n\nexit 4",
        "r = _\nprint(r.exit_code, r.container_id[:12], repr(r.output))",
        "timeline = nbext.timeline(r.container_id); timeline",
        "df = %container timings\nprint(list(df.columns)); print(df['name'].tolist()); "
        "print(set(df['container']) == {r.container_id})",
        "ev = nbext.events()\nprint(ev[ev['id'] == r.container_id]['action'].tolist())",
        "%container rm nb-k2",
        "%container inspect nb-missing",
        "%container create --name nb-k3 --network none busybox true",
        "import time\ntable.act('rm', nbext.session().resolve('nb-k3'))  # the row's rm button\n"
        "deadline = time.monotonic() + 60\n"
        "while not table.message and time.monotonic() < deadline:\n    time.sleep(0.05)\nprint(table.message)",
        "%container ps -aq --filter name=nb-k3",
        "nbext.flush()",
    ), tmp_path)
    cells = nb.cells

    assert texts(cells[3]) == "out\n" and texts(cells[3], "stderr") == "err\n"
    assert result_text(cells[3]).startswith("<whale run: exit status 3, container ")
    assert result_text(cells[4]).startswith("<whale run: exit status 4, container ")
    exit_code, short_id, output = texts(cells[5]).split(" ", 2)
    assert exit_code == "4" and output == repr(f"from the cell\n{short_id}\n") + "\n"  # hostname: the short id

    columns, names, one_container = texts(cells[7]).splitlines()
    assert json.loads(columns.replace("'", '"'))[:7] == ["trace", "container", "layer", "name", "start", "end",
                                                         "duration_ms"]
    assert json.loads(names.replace("'", '"')) == [
        "runRun", "validateAPIVersion", "runContainer", "createContainer", "ContainerCreate", "ContainerAttach",
        "ContainerWait", "ContainerStart", "hijackedIOStreamer.stream", "waitExitOrRemoved"]
    assert one_container == "True"
    actions = texts(cells[8])
    assert all(a in actions for a in ("'create'", "'start'", "'die'"))
    assert texts(cells[10], "stderr") == "Error: No such object: nb-missing\n"  # docker's words

    assert texts(cells[12]).endswith(": done\n") and texts(cells[13]) == ""
    [table] = widget_states(nb, TABLE)
    rows = {r["name"]: r for r in table["rows"]}
    assert (rows["nb-k1"]["state"], rows["nb-k1"]["exit_code"]) == ("removed", 3)
    assert (rows["nb-k2"]["state"], rows["nb-k2"]["exit_code"]) == ("removed", 4)
    assert rows["nb-k2"]["id"].startswith(short_id) and rows["nb-k2"]["image"] == "busybox"
    [timeline] = widget_states(nb, TIMELINE)
    assert [s["name"] for s in timeline["spans"]][:2] == ["runRun", "validateAPIVersion"]
    assert all(s["end_ms"] is not None for s in timeline["spans"])
    assert "client's own spans only" in timeline["note"]  # the real dockerd serves no spans
    [log] = widget_states(nb, EVENTS)
    mine = [(e["action"]) for e in log["events"] if e["id"].startswith(short_id)]
    assert mine[0] == "destroy" and {"create", "start", "die"} <= set(mine)  # newest first
    saved = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert displayed_models(cells[1])[0] in saved and displayed_models(cells[6])[0] in saved


def test_bad_input_is_a_message_not_a_traceback(whale_host, tmp_path):
    nb = execute(notebook(
        "%load_ext nbext",
        "%container run --no-such-flag busybox",
        "%container frobnicate",
        "%%container ps\nls",
        "%container timings a b",
        "%container 'unbalanced",
        "%container --help",
    ), tmp_path)
    cells = nb.cells
    assert "unknown flag: --no-such-flag" in texts(cells[1], "stderr")
    assert "unknown command: whale frobnicate" in texts(cells[2], "stderr")
    assert "%%container takes run or exec, not 'ps'" in texts(cells[3], "stderr")
    assert "requires at least 0 and at most 1 arguments" in texts(cells[4], "stderr")
    assert "No closing quotation" in texts(cells[5], "stderr")
    assert "timings" in texts(cells[6]) and "Usage:  whale [OPTIONS] COMMAND" in texts(cells[6])
    assert not any(o.output_type == "error" for c in cells for o in c.outputs)


@pytest.fixture
def kernel(whale_host, tmp_path):
    k = Kernel(tmp_path)
    yield k
    k.close()


def streamed(msgs: list[dict], name: str = "stdout") -> str:
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == name)


def test_run_streams_into_the_cell_as_the_output_comes(kernel, dockerd, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    kernel.run("%load_ext nbext")
    msg_id = kernel.execute(
        f"%container run --rm --name nb-stream --network none -v {gate}:/gate busybox "
        "sh -c 'echo one; while [ ! -e /gate/open ]; do sleep 0.05; done; echo two'")
    seen = []
    for msg in kernel.messages(msg_id):
        seen.append(msg)
        if streamed(seen) == "one\n" and not (gate / "open").exists():
            (gate / "open").touch()  # the container cannot print "two" before this
    assert (gate / "open").exists() and streamed(seen) == "one\ntwo\n"
    assert "exit status 0" in json.dumps([m["content"] for m in seen if m["msg_type"] == "execute_result"])


def test_table_row_and_timeline_bar_reach_the_front_end_while_the_container_starts(kernel, dockerd):
    """The widgets are live: while `start` is held in the runtime, the row (from dockerd's `create`
    event) and the open ContainerStart bar (the client's span) are already sent."""
    kernel.run("%load_ext nbext\ntable = nbext.table(); timeline = nbext.timeline()\n"
               "display(table, timeline)")
    dockerd.close_gate()
    try:
        msg_id = kernel.execute("%container run --rm --name nb-held --runtime gated --network none busybox echo hi")
        row_seen = bar_seen = held = False
        for msg in kernel.messages(msg_id):
            if msg["msg_type"] != "comm_msg":
                continue
            state = msg["content"]["data"].get("state", {})
            row_seen |= any(r["name"] == "nb-held" and r["state"] == "created" for r in state.get("rows", []))
            bar_seen |= any(s["name"] == "ContainerStart" and s["end_ms"] is None for s in state.get("spans", []))
            if row_seen and bar_seen and not dockerd.gate.exists():
                held = dockerd.wait_start_held()
                dockerd.open_gate()  # only now can `start` return
        assert row_seen and bar_seen and dockerd.gate.exists()
        assert held  # the front end had both while the runtime's `start` was still held
    finally:
        dockerd.open_gate()
    msgs = kernel.run("nbext.flush(); print([r['state'] for r in table.rows if r['name'] == 'nb-held'])")
    assert streamed(msgs) == "['removed']\n"


def test_interrupting_a_run_kills_its_container(kernel, dockerd):
    kernel.run("%load_ext nbext")
    msg_id = kernel.execute("%container run --name nb-interrupted --network none busybox "
                            "sh -c 'echo started; sleep 600'")
    for msg in kernel.messages(msg_id):
        if streamed([msg]) == "started\n":
            kernel.manager.interrupt_kernel()
    state = dockerd.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "nb-interrupted").stdout
    assert state.split() == ["exited", "137"]
    dockerd.docker("rm", "nb-interrupted")
