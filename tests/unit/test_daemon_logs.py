"""The json-file log driver and the attach stream format, byte by byte."""

from __future__ import annotations

import json
from pathlib import Path

from corelib.daemon.logger.jsonfile import MAX_LINE, JSONFileLogger, LogReader, parse_time_ns, tail
from corelib.daemon.stdcopy import Demuxer, DetachScanner, frame, parse_detach_keys


def test_lines_are_split_at_newlines_and_partial_lines_wait(tmp_path):
    path = str(tmp_path / "c-json.log")
    logger = JSONFileLogger(path)
    logger.write(1, b"hel")
    logger.write(1, b"lo\nwor")
    logger.write(2, b"err\n")
    logger.close()  # the end of the run flushes "wor"
    records = [json.loads(line) for line in Path(path).read_bytes().splitlines()]
    assert [(r["log"], r["stream"]) for r in records] == [("hello\n", "stdout"), ("err\n", "stderr"),
                                                          ("wor", "stdout")]
    assert records[0]["time"].endswith("Z") and "T" in records[0]["time"]


def test_long_lines_are_cut_at_16k_and_bad_utf8_is_replaced(tmp_path):
    path = str(tmp_path / "c-json.log")
    logger = JSONFileLogger(path)
    logger.write(1, b"x" * (MAX_LINE + 10) + b"\n")
    logger.write(1, b"\xff\xfeok\n")
    logger.close()
    messages = [m.line for m in LogReader(path).read_available()]
    assert [len(m) for m in messages[:2]] == [MAX_LINE, 11]
    assert messages[2] == "\ufffd\ufffdok\n".encode()


def test_tail_and_a_torn_last_line(tmp_path):
    path = tmp_path / "c-json.log"
    logger = JSONFileLogger(str(path))
    for i in range(5):
        logger.write(1, f"line{i}\n".encode())
    logger.close()
    with open(path, "ab") as f:
        f.write(b'{"log":"torn')  # a crash in the middle of a write
    messages, offset = tail(str(path), 2)
    assert [m.line for m in messages] == [b"line3\n", b"line4\n"]
    assert tail(str(path), 0)[0] == [] and len(tail(str(path), -1)[0]) == 5
    reader = LogReader(str(path))
    reader.offset = offset
    with open(path, "ab") as f:
        f.write(b'ed"}\n' + json.dumps({"log": "more\n", "stream": "stderr", "time": "2026-11-29T20:20:54Z"})
                .encode() + b"\n")
    assert [m.line for m in reader.read_available()] == [b"more\n"]


def test_time_parsing_keeps_nanoseconds():
    assert parse_time_ns("2026-11-29T20:20:54.37594716Z") == 1795983654_375947160
    assert parse_time_ns("2026-11-29T20:20:54Z") == 1795983654_000000000


def test_frames_as_the_cli_reads_them():
    assert frame(1, b"out\n") == b"\x01\x00\x00\x00\x00\x00\x00\x04out\n"
    assert frame(2, b"") == b""
    big = frame(2, b"y" * 70000)
    demuxer = Demuxer()
    got = demuxer.feed(big[:10]) + demuxer.feed(big[10:])
    assert [(s, len(p)) for s, p in got] == [(2, 32768), (2, 32768), (2, 4464)]


def test_detach_keys():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-@") == b"a\x00"
    scanner = DetachScanner(b"\x10\x11")
    assert scanner.feed(b"ab\x10") == b"ab" and not scanner.detached
    assert scanner.feed(b"c") == b"\x10c"
    assert scanner.feed(b"\x10\x11tail") == b"" and scanner.detached
