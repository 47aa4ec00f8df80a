"""corelib.trace.cjson writes and reads what json does, without importing it."""

from __future__ import annotations

import json
import math

import pytest

from corelib.trace import cjson


@pytest.mark.parametrize("value", [{}, {"container_id": "c" * 64, "exec_id": ""}, {"pid": 7, "follows_from": True},
                                   {"a": 1.5, "b": None, "c": [1, "x"], "d": "é\"\n<>", "e": {"f": False}},
                                   {"odd": object, "n": float("inf")}])
def test_dumps_is_compact_json_with_str_for_the_rest(value):
    assert cjson.dumps(value) == json.dumps(value, separators=(",", ":"), default=str)


@pytest.mark.parametrize("text", ['{"a":1}', ' [1, 2.5, "x", null, true] \n', '"\\u00e9"',
                                  '{"level":"debug","msg":"phase","phase":"load config","start_ns":1,"end_ns":2}'])
def test_loads_reads_what_json_reads(text):
    assert cjson.loads(text) == json.loads(text)


def test_loads_constants_and_errors_as_json():
    assert math.isnan(cjson.loads("NaN"))
    for bad in ["{", '{"a":1} x', "", '{bad "phase"']:
        with pytest.raises(ValueError):
            cjson.loads(bad)
