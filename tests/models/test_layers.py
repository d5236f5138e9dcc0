"""The layer table: index = w row, every key once, lookups by key, resolution and kind."""

from __future__ import annotations

import pytest
import torch

from engine.models.layers import LayerEntry, LayerTable
from tests.models.sg2_helpers import tiny_generator


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


# --- the StyleGAN2 table -------------------------------------------------------------------------


@pytest.mark.parametrize("architecture,c_dim", [("orig", 0), ("skip", 0), ("resnet", 0), ("skip", 4)])
def test_stylegan2_table_lists_every_float_key_exactly_once(architecture, c_dim):
    G = tiny_generator(architecture, c_dim=c_dim)
    table = G.layers
    float_keys = [k for k, v in G.state_dict().items() if v.is_floating_point()]
    listed = [k for entry in table for k in entry.keys] + [k for k, _ in table.mapping] + list(table.fixed)
    assert sorted(listed) == sorted(float_keys)  # every key, none twice
    assert len(table) == G.num_ws
    assert all(kind == "mapping" for _, kind in table.mapping)
    assert ("mapping.w_avg", "mapping") in table.mapping
    if c_dim:
        assert table.kind_of("mapping.embed.weight") == "mapping"
    assert all(key.endswith("resample_filter") for key in table.fixed)


def test_stylegan2_table_follows_the_w_rows():
    G = tiny_generator("skip")  # 16 px: b4, b8, b16 -> 6 rows
    names = [entry.name for entry in G.layers]
    assert names == ["b4.const + b4.conv1", "b8.conv0 + b4.torgb", "b8.conv1",
                     "b16.conv0 + b8.torgb", "b16.conv1", "b16.torgb"]
    assert [(e.resolution, e.channels) for e in G.layers] == [(4, 16), (8, 16), (8, 16), (16, 8), (16, 8), (16, 3)]
    table = G.layers
    assert table.layer_of("synthesis.b4.const") == 0 and table.kind_of("synthesis.b4.const") == "const"
    assert table.layer_of("synthesis.b4.torgb.affine.weight") == 1
    assert table.kind_of("synthesis.b4.torgb.affine.weight") == "torgb"
    assert table.kind_of("synthesis.b8.conv0.affine.bias") == "affine"
    assert table.kind_of("synthesis.b8.conv0.noise_const") == "noise"
    assert table.kind_of("synthesis.b8.conv1.bias") == "bias"
    assert table.layer_of("synthesis.b16.torgb.bias") == 5
    assert table.resolutions() == [4, 8, 16]
    assert [e.index for e in table.by_resolution(8)] == [1, 2]


def test_stylegan2_table_rows_style_their_layers():
    """Changing w row i changes exactly the output of the layers the table puts at index i."""
    G = tiny_generator("skip")
    ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0)))
    seen: dict[str, torch.Tensor] = {}
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
             for name, module in G.synthesis.named_modules() if name.endswith(("conv0", "conv1", "torgb"))]
    G.synthesis(ws)
    base = dict(seen)
    for entry in G.layers:
        bumped = ws.clone()
        bumped[:, entry.index] += 1.0
        G.synthesis(bumped)
        owned = set(entry.name.split(" + ")) - {"b4.const"}  # module names, e.g. "b8.conv0"
        first = min(owned, key=lambda n: list(base).index(n))
        for name in list(base)[:list(base).index(first)]:
            assert torch.equal(seen[name], base[name]), f"row {entry.index} changed {name}"
        for name in owned:
            assert not torch.equal(seen[name], base[name]), f"row {entry.index} did not change {name}"
    for hook in hooks:
        hook.remove()


def test_stylegan2_resnet_skip_joins_the_conv1_entry_and_1024px_has_18_rows():
    G = tiny_generator("resnet")
    assert G.layers.layer_of("synthesis.b8.skip.weight") == G.layers.layer_of("synthesis.b8.conv1.weight") == 2
    assert G.layers.kind_of("synthesis.b8.skip.weight") == "conv"
    assert "synthesis.b8.skip.resample_filter" in G.layers.fixed
    assert [e.name for e in G.layers][1] == "b8.conv0"  # no torgb before the last block
    big = tiny_generator("skip", resolution=1024, channel_base=1024, channel_max=2)
    assert len(big.layers) == big.num_ws == 18
    assert big.layers[17].name == "b1024.torgb" and big.layers[16].name == "b1024.conv1"
