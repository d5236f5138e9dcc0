"""build_generator: family detection, both kwarg layouts, strict loading with named errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.errors import ModelLoadError
from engine.models.build import build_generator, detect_family, flatten_kwargs
from tests.models.sg2_helpers import assert_close_to_ref, oracle_model, tiny_kwargs


def test_nested_and_flat_kwargs_build_the_same_model(oracle):
    meta, weights, ref = oracle_model(oracle, "sg2_64_A")
    nested = meta["init_kwargs"]
    flat = {k: v for k, v in nested.items() if k != "synthesis_kwargs"} | nested["synthesis_kwargs"]
    G_nested = engine.build_generator(nested, weights)
    G_flat = engine.build_generator(flat, {k: torch.from_numpy(v) for k, v in weights.items()})
    assert G_nested.init_kwargs == G_flat.init_kwargs
    assert "synthesis_kwargs" not in G_nested.init_kwargs and G_nested.init_kwargs["channel_base"] == 1024
    assert G_nested.init_kwargs["mapping_kwargs"] == {"num_layers": 8}
    assert not G_nested.training and not any(p.requires_grad for p in G_nested.parameters())
    ws = torch.from_numpy(ref["ws_s0_psi1.0"])
    assert_close_to_ref(G_flat.synthesis(ws), ref["img_s0_psi1.0"], "flat-kwargs model")
    rebuilt = build_generator(G_nested.init_kwargs, G_nested.state_dict())  # what the native format does
    assert torch.equal(rebuilt.synthesis(ws), G_nested.synthesis(ws))


def test_family_comes_from_the_keys_or_the_kwargs(oracle):
    _, sg2_weights, _ = oracle_model(oracle, "sg2_64_A")
    _, sg3_weights, _ = oracle_model(oracle, "sg3t_64_A")
    assert detect_family({}, sg2_weights) == "stylegan2"
    assert detect_family({}, sg3_weights) == "stylegan3"
    assert detect_family(tiny_kwargs()) == "stylegan2"
    assert detect_family({"z_dim": 8, "magnitude_ema_beta": 0.999}) == "stylegan3"
    with pytest.raises(ModelLoadError, match="neither StyleGAN2"):
        detect_family({}, {"decoder.weight": np.zeros(3)})


def test_stylegan3_weights_build_the_stylegan3_generator(oracle):
    meta, weights, _ = oracle_model(oracle, "sg3t_64_A")
    G = build_generator(meta["init_kwargs"], weights)
    assert G.family == "stylegan3" and G.num_ws == 16
    assert not any(p.requires_grad for p in G.parameters())


def test_missing_unexpected_and_misshaped_keys_are_named():
    G = build_generator(tiny_kwargs())
    weights = {k: v.clone() for k, v in G.state_dict().items()}
    missing = dict(weights)
    del missing["synthesis.b8.conv1.weight"]
    with pytest.raises(ModelLoadError, match=r"missing keys synthesis\.b8\.conv1\.weight"):
        build_generator(tiny_kwargs(), missing)
    with pytest.raises(ModelLoadError, match=r"unexpected keys synthesis\.b8\.extra"):
        build_generator(tiny_kwargs(), {**weights, "synthesis.b8.extra": torch.zeros(1)})
    with pytest.raises(ModelLoadError, match=r"shape mismatch synthesis\.b4\.const"):
        build_generator(tiny_kwargs(), {**weights, "synthesis.b4.const": torch.zeros(3, 4, 4)})
    with pytest.raises(ModelLoadError, match="missing keys.*unexpected keys"):  # resnet weights, skip kwargs
        build_generator(tiny_kwargs("skip"), build_generator(tiny_kwargs("resnet")).state_dict())


def test_bad_kwargs_are_refused_with_a_message():
    with pytest.raises(ModelLoadError, match="unknown stylegan2 constructor kwargs: wobble"):
        build_generator({**tiny_kwargs(), "wobble": 3})
    with pytest.raises(ModelLoadError, match="channel_base"):
        flatten_kwargs({**tiny_kwargs(), "channel_base": 64})  # top level and nested disagree
    with pytest.raises(ModelLoadError, match="do not fit"):
        build_generator({k: v for k, v in tiny_kwargs().items() if k != "w_dim"})


def test_state_dict_values_are_loaded_not_shared_and_land_on_the_device():
    source = build_generator(tiny_kwargs())
    weights = {k: v.numpy().copy() for k, v in source.state_dict().items()}
    G = build_generator(tiny_kwargs(), weights, device="cpu")
    assert all(p.device.type == "cpu" for p in G.parameters())
    weights["synthesis.b4.const"][:] = 0  # the caller's arrays stay theirs
    assert G.synthesis.b4.const.abs().sum() > 0
    assert torch.equal(G.mapping.w_avg, source.mapping.w_avg)
