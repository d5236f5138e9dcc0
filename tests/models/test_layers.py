"""The layer table: index = w row, every key once, lookups by key, resolution and kind."""

from __future__ import annotations

import pytest

from engine.models.layers import LayerEntry, LayerTable


def _tiny_table() -> LayerTable:
    entries = [
        LayerEntry(0, "b4.conv1", 4, 8,
                   (("synthesis.b4.const", "const"), ("synthesis.b4.conv1.weight", "conv"))),
        LayerEntry(1, "b8.conv0 + b4.torgb", 8, 8,
                   (("synthesis.b4.torgb.weight", "torgb"), ("synthesis.b8.conv0.weight", "conv"))),
    ]
    return LayerTable(entries, mapping=[("mapping.w_avg", "mapping")], fixed=["synthesis.b4.resample_filter"])


def test_lookups_by_key_resolution_and_kind():
    table = _tiny_table()
    assert len(table) == 2 and table[1].name == "b8.conv0 + b4.torgb"
    assert table.layer_of("synthesis.b8.conv0.weight") == 1
    assert table.layer_of("mapping.w_avg") is None
    assert table.kind_of("synthesis.b4.torgb.weight") == "torgb"
    assert table.kind_of("synthesis.b4.resample_filter") == "fixed"
    assert table.resolutions() == [4, 8]
    assert [e.index for e in table.by_resolution(8)] == [1]
    assert table.by_kind("conv") == ["synthesis.b4.conv1.weight", "synthesis.b8.conv0.weight"]
    assert table.describe()[1] == (1, "b8.conv0 + b4.torgb", 8, 8, "torgb,conv")
    with pytest.raises(KeyError):
        table.kind_of("synthesis.b4.nope")


def test_a_key_listed_twice_is_refused():
    entry = LayerEntry(0, "b4.conv1", 4, 8, (("synthesis.b4.conv1.weight", "conv"),))
    with pytest.raises(ValueError, match="listed twice"):
        LayerTable([entry], mapping=[("synthesis.b4.conv1.weight", "mapping")], fixed=[])


def test_indices_must_follow_w_rows_and_kinds_must_be_known():
    with pytest.raises(ValueError, match="expected 0"):
        LayerTable([LayerEntry(1, "x", 4, 8, ())], mapping=[], fixed=[])
    with pytest.raises(ValueError, match="unknown layer kind"):
        LayerTable([LayerEntry(0, "x", 4, 8, (("k", "weights"),))], mapping=[], fixed=[])
