"""corelib.jsonlite as the spans use it: compact, str() for what JSON has no type for, and reads what json
does, without importing it."""

from __future__ import annotations

import json
import math

import pytest

from corelib import jsonlite


@pytest.mark.parametrize("value", [{}, {"container_id": "c" * 64, "exec_id": ""}, {"pid": 7, "follows_from": True},
                                   {"a": 1.5, "b": None, "c": [1, "x"], "d": "é\"\n<>", "e": {"f": False}},
                                   {"odd": object, "n": float("inf")}])
def test_dumps_is_compact_json_with_str_for_the_rest(value):
    compact = {"separators": (",", ":"), "default": str}
    assert jsonlite.dumps(value, **compact) == json.dumps(value, **compact)


@pytest.mark.parametrize("text", ['{"a":1}', ' [1, 2.5, "x", null, true] \n', '"\\u00e9"',
                                  '{"level":"debug","msg":"phase","phase":"load config","start_ns":1,"end_ns":2}'])
def test_loads_reads_what_json_reads(text):
    assert jsonlite.loads(text) == json.loads(text)


def test_loads_constants_and_errors_as_json():
    assert math.isnan(jsonlite.loads("NaN"))
    for bad in ["{", '{"a":1} x', "", '{bad "phase"']:
        with pytest.raises(ValueError):
            jsonlite.loads(bad)
