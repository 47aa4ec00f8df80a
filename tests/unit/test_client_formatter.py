"""docker/cli's output formatting: Go's tabwriter, go-units, Go templates, json.Indent, jsonmessage."""

from __future__ import annotations

import io

import pytest

from corelib.client.cli.formatter import render
from corelib.client.cli.formatter.jsonfmt import indent
from corelib.client.cli.formatter.tabwriter import TabWriter, tabulate
from corelib.client.cli.formatter.templates import Template, TemplateError
from corelib.client.cli.jsonmessage import JSONMessageError, display_stream
from corelib.client.cli.streams import OutStream
from corelib.gounits import human_duration, human_size_with_precision, ram_in_bytes


def test_tabwriter_as_docker_ps_lays_out_a_table():
    text = ("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n"
            "75fe2e9d8b4f\tbusybox\t\"echo hi\"\tLess than a second ago\tExited (0) Less than a second ago\t\tt1\n")
    assert tabulate(text).splitlines() == [
        "CONTAINER ID   IMAGE     COMMAND     CREATED                  STATUS                              "
        "PORTS     NAMES",
        "75fe2e9d8b4f   busybox   \"echo hi\"   Less than a second ago   Exited (0) Less than a second ago   "
        "          t1"]


def test_tabwriter_blocks_end_at_lines_without_tabs():
    tw = TabWriter(20, 1, 1)
    tw.write("Client:\n Version:\t1\n API version:\t1.41\n\nServer:\n Engine:\n  Version:\t2\n")
    assert tw.flush() == ("Client:\n Version:           1\n API version:       1.41\n\nServer:\n Engine:\n"
                          "  Version:          2\n")
    tw = TabWriter(0, 1, 2)
    tw.write("a\tb\nlonger cell\tc\nx")
    assert tw.flush() == "a            b\nlonger cell  c\nx"
    assert tabulate("名前\tX\nab\tY\n", minwidth=0, padding=1) == "名前 X\nab   Y\n"  # wide runes count twice


@pytest.mark.parametrize("size, text", [(0, "0B"), (999, "999B"), (1000, "1kB"), (1982326, "1.98MB"),
                                        (1_500_000_000, "1.5GB"), (2 * 10**24, "2YB")])
def test_human_size(size, text):
    assert human_size_with_precision(size, 3) == text


@pytest.mark.parametrize("seconds, text", [(0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"),
                                           (60, "About a minute"), (3599, "59 minutes"), (3600, "About an hour"),
                                           (47 * 3600, "47 hours"), (3 * 86400, "3 days"),
                                           (20 * 86400, "2 weeks"), (90 * 86400, "3 months"),
                                           (3 * 365 * 86400, "3 years")])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_ram_in_bytes():
    assert [ram_in_bytes(s) for s in ("64m", "1g", "1.5k", "100", "2GiB", "3 mb")] == [
        64 << 20, 1 << 30, 1536, 100, 2 << 30, 3 << 20]
    with pytest.raises(ValueError, match="invalid size: 'abc'"):
        ram_in_bytes("abc")


DATA = {"Id": "abc", "Name": "/n", "State": {"Status": "exited", "Running": False, "Pid": 0, "Error": None},
        "Config": {"Labels": {"b": "<2>", "a": "1"}, "Env": ["A=1", "B=2"], "Cmd": ["sh", "-c", "x"]}}


@pytest.mark.parametrize("source, output", [
    ("{{.Id}}", "abc"),
    ("{{.State.Status}} {{.State.Running}} {{.State.Pid}}", "exited false 0"),
    ("{{.State.Error}} {{.Nope}}", "<nil> <no value>"),
    ("{{json .Config.Labels}}", '{"b":"\\u003c2\\u003e","a":"1"}'),
    ("{{.Config.Labels}} {{.Config.Cmd}}", "map[a:1 b:<2>] [sh -c x]"),
    ('{{index .Config.Labels "a"}}', "1"),
    ("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][B=2]"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=1;b=<2>;"),
    ('{{join .Config.Env ","}} {{.Name | upper}} {{len .Config.Env}}', "A=1,B=2 /N 2"),
    ("{{if .State.Running}}up{{else if eq .State.Status \"exited\"}}down{{else}}?{{end}}", "down"),
    ("{{with .State}}{{.Status}}{{end}}{{with .Nope}}x{{else}}y{{end}}", "exitedy"),
    ("a {{- .Id -}} b", "aabcb"),
    ("{{/* a comment */}}{{$x := .Id}}{{$x}}", "abc"),
    ('{{printf "%s-%d" .Id 7}} {{lower (index .Config.Labels "b")}}', "abc-7 <2>"),
])
def test_go_templates(source, output):
    assert Template(source).execute(DATA) == output


@pytest.mark.parametrize("source", ["{{.Id", "{{end}}", "{{if .Id}}x", "{{nosuchfunc .Id}}"])
def test_bad_templates_fail(source):
    with pytest.raises(TemplateError):
        Template(source).execute(DATA)


def test_render_table_header_and_rows():
    class Row:
        def __init__(self, name):
            self.name = name

        def Name(self):  # noqa: N802
            return self.name

        def Label(self, key):  # noqa: N802
            return f"{self.name}.{key}"

    out = render('table {{.Name}}\t{{.Label "x"}}', [Row("a"), Row("bbb")], {"Name": "NAME", "Label": "LABEL"})
    assert out == "NAME      LABEL\na         a.x\nbbb       bbb.x\n"
    assert render("{{.Name}}", [Row("a")], {}) == "a\n"
    assert render("table {{.Name}}", [], {"Name": "NAME"}) == "NAME\n"


def test_json_indent_keeps_the_text_as_sent():
    raw = '[{"a":[],"b":{},"c":[1,2.50,"x\\"y\\u003c"],"d":{"e":null}}]'
    assert indent(raw) == ('[\n    {\n        "a": [],\n        "b": {},\n        "c": [\n            1,\n'
                           '            2.50,\n            "x\\"y\\u003c"\n        ],\n        "d": {\n'
                           '            "e": null\n        }\n    }\n]')


def test_jsonmessage_stream_without_a_terminal():
    out = io.StringIO()
    display_stream([{"status": "Pulling from busybox", "id": "test"},
                    {"status": "Pulling fs layer", "progressDetail": {}, "id": "f353ea3c7d5f"},
                    {"status": "Downloading", "progressDetail": {"current": 10, "total": 100}, "id": "f353ea3c7d5f"},
                    {"status": "Digest: sha256:16cc"}, {"stream": "Loaded image: busybox:latest\n"}], OutStream(out))
    assert out.getvalue() == ("test: Pulling from busybox\nf353ea3c7d5f: Pulling fs layer\nDigest: sha256:16cc\n"
                              "Loaded image: busybox:latest\n")
    with pytest.raises(JSONMessageError, match="manifest unknown"):
        display_stream([{"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"}], OutStream(out))
    with pytest.raises(JSONMessageError, match="authentication is required"):
        display_stream([{"errorDetail": {"code": 401, "message": "x"}}], OutStream(out))
