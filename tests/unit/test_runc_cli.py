"""whale-runc's command-line pieces without a kernel in sight: flag parsing, signals, ids, logs, times."""

from __future__ import annotations

import json

import pytest

from corelib.runc import cli, logs
from corelib.runc.commands.kill import parse_signal
from corelib.runc.commands.list import table
from corelib.runc.commands.update import merge, ram_in_bytes
from corelib.runc.container import rfc3339_nano, validate_id
from corelib.runc.errors import RuncError, UsageError, strerror

FLAGS = (cli.Flag("bundle, b", str, ""), cli.Flag("force, f", bool, False), cli.Flag("env, e", list),
         cli.Flag("preserve-fds", int, 0))


def test_flags_before_and_after_arguments_single_or_double_dash():
    opts, args = cli.parse(["-b", "/x", "id", "--force", "--env=A=1", "-e", "B=2", "-preserve-fds", "2"], FLAGS)
    assert opts == {"bundle": "/x", "force": True, "env": ["A=1", "B=2"], "preserve-fds": 2}
    assert args == ["id"]


def test_without_reordering_everything_after_the_first_argument_is_kept():
    opts, args = cli.parse(["-f", "id", "sh", "-c", "--force"], FLAGS, reorder=False)
    assert opts["force"] is True and args == ["id", "sh", "-c", "--force"]


def test_double_dash_and_bool_values():
    opts, args = cli.parse(["--force=false", "--", "-b"], FLAGS)
    assert opts["force"] is False and args == ["-b"]


@pytest.mark.parametrize("argv,message", [
    (["--nope"], "flag provided but not defined: -nope"),
    (["--bundle"], "flag needs an argument: -bundle"),
    (["--preserve-fds", "x"], 'invalid value "x" for flag -preserve-fds: parse error'),
])
def test_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        cli.parse(argv, FLAGS)


@pytest.mark.parametrize("raw,number", [("9", 9), ("KILL", 9), ("sigterm", 15), ("SIGUSR1", 10), ("usr2", 12),
                                        ("0", 0)])
def test_signals_by_number_or_name(raw, number):
    assert parse_signal(raw) == number


def test_unknown_signal_is_runcs_error():
    with pytest.raises(RuncError, match='^unknown signal "FOO"$'):
        parse_signal("FOO")


@pytest.mark.parametrize("good", ["abc", "a-b_c.d+e", "X1"])
def test_valid_ids(good):
    validate_id(good)


@pytest.mark.parametrize("bad,message", [("", "container id cannot be empty"), ("a/b", "invalid container ID format"),
                                         ("..", "invalid container ID format"), ("é", "invalid container ID format"),
                                         ("a b", "invalid container ID format")])
def test_invalid_ids(bad, message):
    with pytest.raises(RuncError, match=f"^{message}$"):
        validate_id(bad)


def test_rfc3339_nano_trims_like_go():
    assert rfc3339_nano(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert rfc3339_nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def test_log_lines_text_and_json():
    line = logs.format_line("error", 'exec: "/x": no such <file>', "json")
    assert list(json.loads(line)) == ["level", "msg", "time"]
    assert json.loads(line)["msg"] == 'exec: "/x": no such <file>' and "\\u003c" in line  # Go escapes < and >
    text = logs.format_line("error", "container does not exist", "text")
    assert text.startswith('time="') and text.endswith(' level=error msg="container does not exist"\n')
    assert logs.format_line("info", "plain", "text").endswith("level=info msg=plain\n")


def test_go_wording_of_errno():
    assert strerror(2) == "no such file or directory"
    assert strerror(1) == "operation not permitted"


def test_list_table_is_tabwriter_like():
    rows = [["ID", "PID", "STATUS"], ["a", "12", "running"], ["longer-than-twelve", "3", "created"]]
    first = len("longer-than-twelve") + 3  # the widest cell plus padding 3; at least 12
    assert table(rows).splitlines() == ["ID".ljust(first) + "PID".ljust(12) + "STATUS",
                                        "a".ljust(first) + "12".ljust(12) + "running",
                                        "longer-than-twelve".ljust(first) + "3".ljust(12) + "created"]


def test_update_values():
    assert ram_in_bytes("512m") == 512 << 20 and ram_in_bytes("1g") == 1 << 30 and ram_in_bytes("100") == 100
    assert ram_in_bytes("-1") == -1
    merged = merge({"memory": {"limit": 5, "swap": 9}, "pids": {"limit": 3}},
                   {"memory": {"limit": 7, "swap": 0}, "pids": {"limit": 0}, "cpu": {"shares": 2, "cpus": ""}})
    assert merged == {"memory": {"limit": 7, "swap": 9}, "pids": {"limit": 3}, "cpu": {"shares": 2}}


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True, "é<>&"], "b": {}}, [], {}, "s", 3,
                                   {"nested": {"x": [{"y": "z"}]}}])
def test_jsonlite_writes_what_json_writes(value):
    from corelib import jsonlite

    for options in ({}, {"indent": 2}, {"indent": "\t"}, {"separators": (",", ":")}, {"ensure_ascii": False}):
        assert jsonlite.dumps(value, **options) == json.dumps(value, **options)
    assert jsonlite.loads(" \n" + json.dumps(value, indent=1) + "\n") == value


@pytest.mark.parametrize("bad", ["", "{", "{} extra", "{'single': 1}"])
def test_jsonlite_errors_are_jsons(bad):
    from corelib import jsonlite

    with pytest.raises(json.JSONDecodeError):
        jsonlite.loads(bad)
