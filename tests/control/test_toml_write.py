"""The TOML writer: what it writes reads back identically with tomllib, and writes are atomic."""

from __future__ import annotations

import math

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from engine.control.toml_write import dumps, write_atomic


def test_round_trip_of_every_supported_type():
    doc = {
        "name": 'quote " backslash \\ tab \t newline \n bell \x07 é',
        "count": 3,
        "ratio": 0.1,
        "tiny": 1e-300,
        "big": 1e16,
        "neg": -2.5,
        "on": True,
        "off": False,
        "list": [1, 2.5, "x", [True, False]],
        "empty": [],
        "params": {"blend.layer.0": 0.25, "plain_key": 1.0, "with space": -1.0},
        "models": {"a": {"path": "a.pkl"}, "b": {"path": "../b.pkl"}},
        "keyframes": [{"seed": 1, "psi": 0.7, "meta": {"k": [1, 2]}}, {"seed": 2, "inline": [{"x": 1}]}],
    }
    text = dumps(doc)
    assert tomllib.loads(text) == doc


def test_inf_and_nan_are_written_as_toml_specials():
    back = tomllib.loads(dumps({"a": math.inf, "b": -math.inf, "c": math.nan}))
    assert back["a"] == math.inf and back["b"] == -math.inf and math.isnan(back["c"])


def test_unrepresentable_values_are_refused():
    with pytest.raises(TypeError):
        dumps({"a": None})
    with pytest.raises(TypeError):
        dumps({1: 2})


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "x.toml"
    write_atomic(path, {"v": 1}, header="first line\n\nthird")
    write_atomic(path, {"v": 2})
    assert tomllib.loads(path.read_text()) == {"v": 2}
    assert [p.name for p in path.parent.iterdir()] == ["x.toml"]
    write_atomic(path, {"v": 3}, header="made by a test")
    assert path.read_text().startswith("# made by a test\n")
