"""StyleGAN3 generator: parity with the official reference outputs (config T), the derived layout,
filter design, the input transform, config R's invariants and the layer table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine.errors import NetblendError
from engine.models.stylegan3 import StyleGAN3Generator, make_transform, stylegan3_kwargs
from engine.models.stylegan3_layers import derive_layout, design_lowpass_filter

NAME = "sg3t_64_A"


def assert_close(out, ref, what: str) -> None:
    """The oracle tolerance: max|out - ref| <= 2e-5 * max(1, max|ref|)."""
    out = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
    err = float(np.abs(out - ref).max())
    assert err <= 2e-5 * max(1.0, float(np.abs(ref).max())), f"{what}: max error {err:.3g}"


@pytest.fixture(scope="module")
def oracle_model(oracle):
    meta = json.loads((oracle / f"{NAME}.json").read_text())
    state = dict(np.load(oracle / f"{NAME}.npz"))
    ref = dict(np.load(oracle / f"{NAME}_ref.npz"))
    G = StyleGAN3Generator(**meta["init_kwargs"]).eval()
    G.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    return G, meta, state, ref


def tiny(config: str, seed: int = 0) -> StyleGAN3Generator:
    torch.manual_seed(seed)
    kwargs = stylegan3_kwargs(config, 16, z_dim=8, w_dim=16, channel_base=256, channel_max=16)
    return StyleGAN3Generator(**kwargs).eval()


# ---- config T against the official outputs -------------------------------------------------------

def test_derived_layout_matches_official(oracle_model):
    G, meta, _, _ = oracle_model
    synthesis = meta["synthesis"]
    layout = G.synthesis.layout
    assert G.num_ws == meta["num_ws"] == len(layout.layers) + 1
    assert G.synthesis.layer_names == synthesis["layer_names"]
    first = synthesis["input"]
    assert (layout.input.channels, [layout.input.size] * 2) == (first["channels"], first["size"])
    assert layout.input.sampling_rate == first["sampling_rate"]
    assert layout.input.bandwidth == pytest.approx(first["bandwidth"], rel=1e-12)
    for spec, want in zip(layout.layers, synthesis["layers"], strict=True):
        for field in ("in_channels", "out_channels", "in_sampling_rate", "out_sampling_rate",
                      "up_factor", "down_factor", "up_taps", "down_taps", "down_radial",
                      "conv_kernel", "is_torgb", "is_critically_sampled", "use_fp16"):
            assert getattr(spec, field) == want[field], f"{spec.name}.{field}"
        for field in ("in_cutoff", "out_cutoff", "in_half_width", "out_half_width"):
            assert getattr(spec, field) == pytest.approx(want[field], rel=1e-12), f"{spec.name}.{field}"
        assert [spec.in_size] * 2 == want["in_size"] and [spec.out_size] * 2 == want["out_size"]
        assert list(spec.padding) == want["padding"], spec.name
        assert getattr(G.synthesis, spec.name).conv_clamp == want["conv_clamp"]


def test_state_dict_keys_and_designed_filters_match_official(oracle_model):
    _, meta, state, _ = oracle_model
    fresh = StyleGAN3Generator(**meta["init_kwargs"]).state_dict()
    assert set(fresh) == set(state)
    for key, value in state.items():
        assert tuple(fresh[key].shape) == value.shape, key
        if key.endswith("_filter"):  # designed here from the layout, not loaded
            np.testing.assert_allclose(fresh[key].numpy(), value, atol=1e-7, err_msg=key)


@pytest.mark.parametrize("impl", ["ref", "fast"])
@pytest.mark.parametrize("psi", ["1.0", "0.7"])
def test_mapping_and_images_match_official(oracle_model, psi, impl):
    G, _, _, ref = oracle_model
    G.synthesis.impl = impl
    try:
        with torch.no_grad():
            for seed in range(3):
                ws = G.mapping(ref[f"z_seed{seed}"], None, truncation_psi=float(psi))
                assert ws.shape == (1, G.num_ws, G.w_dim)
                assert_close(ws, ref[f"ws_s{seed}_psi{psi}"], f"ws seed {seed} psi {psi}")
                img = G.synthesis(ws, noise_mode="const")
                assert img.dtype == torch.float32 and img.shape == (1, 3, 64, 64)
                assert_close(img, ref[f"img_s{seed}_psi{psi}"], f"{impl} image seed {seed} psi {psi}")
    finally:
        G.synthesis.impl = "ref"


def test_transform_matches_official_and_leaves_buffers_alone(oracle_model):
    G, _, _, ref = oracle_model
    M = make_transform(tuple(ref["xform_translate"]), float(ref["xform_angle_deg"]))
    np.testing.assert_allclose(M.numpy(), ref["xform_buffer"], atol=1e-7)
    before = {key: value.clone() for key, value in G.state_dict().items()}
    with torch.no_grad():
        for seed in range(3):
            ws = torch.from_numpy(ref[f"ws_s{seed}_psi1.0"])
            img = G.synthesis(ws, transform=M)
            assert_close(img, ref[f"img_s{seed}_psi1.0_xform"], f"transformed image seed {seed}")
    for key, value in G.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} changed during render"


def test_transform_argument_equals_transform_in_buffer():
    G = tiny("T")
    M = make_transform((0.2, 0.1), angle_deg=30.0)
    with torch.no_grad():
        ws = G.mapping(torch.randn(2, 8))
        by_argument = G.synthesis(ws, transform=M)
        identity = G.synthesis(ws)
        G.synthesis.input.transform.copy_(M)
        by_buffer = G.synthesis(ws)
    torch.testing.assert_close(by_argument, by_buffer, rtol=0, atol=1e-6)
    assert (by_argument - identity).abs().max() > 1e-2


# ---- filter design --------------------------------------------------------------------------------

def response(taps: np.ndarray, fs: float, fx: float, fy: float = 0.0) -> float:
    """Magnitude of a centred 1-D (applied on x) or 2-D filter's frequency response."""
    offsets = np.arange(taps.shape[-1]) - (taps.shape[-1] - 1) / 2
    if taps.ndim == 1:
        return abs(float(np.sum(taps * np.cos(2 * np.pi * fx / fs * offsets))))
    phase = 2 * np.pi * (fx * offsets[None, :] + fy * offsets[:, None]) / fs
    return abs(float(np.sum(taps * np.cos(phase))))


@pytest.mark.parametrize("numtaps,cutoff,half_width,fs", [(12, 2.0, 6.0, 32), (24, 4.0, 4.0, 64),
                                                         (12, 16.0, 16.0, 128)])
def test_lowpass_filters_pass_dc_and_stop_the_stopband(numtaps, cutoff, half_width, fs):
    stopband = np.linspace(cutoff + 2 * half_width, fs / 2, 25)
    separable = design_lowpass_filter(numtaps, cutoff, 2 * half_width, fs).double().numpy()
    assert separable.shape == (numtaps,)
    np.testing.assert_array_equal(separable, separable[::-1])
    assert response(separable, fs, 0) == pytest.approx(1, abs=1e-6)
    assert max(response(separable, fs, f) for f in stopband) < 0.005

    radial = design_lowpass_filter(numtaps, cutoff, 2 * half_width, fs, radial=True).double().numpy()
    assert radial.shape == (numtaps, numtaps)
    for symmetric in (radial.T, radial[::-1], radial[:, ::-1], np.rot90(radial)):
        np.testing.assert_array_equal(radial, symmetric)
    assert radial.sum() == pytest.approx(1, abs=1e-6)
    assert max(response(radial, fs, f) for f in stopband) < 0.01
    # Isotropic: the response at the cutoff is the same along an axis and along the diagonal.
    diagonal = cutoff / math.sqrt(2)
    assert response(radial, fs, cutoff) == pytest.approx(response(radial, fs, diagonal, diagonal), abs=0.01)
    assert design_lowpass_filter(1, cutoff, 2 * half_width, fs) is None


# ---- config R ---------------------------------------------------------------------------------------

def test_config_r_layout_follows_the_r_rules():
    t_kwargs, r_kwargs = stylegan3_kwargs("T", 256), stylegan3_kwargs("R", 256)
    assert (r_kwargs["channel_base"], r_kwargs["channel_max"]) == (65536, 1024)
    t_layout = derive_layout(256, 3, **{k: t_kwargs[k] for k in ("channel_base", "channel_max")})
    r_layout = derive_layout(256, 3, channel_base=65536, channel_max=1024, conv_kernel=1,
                             use_radial_filters=True)
    assert r_layout.input.channels == 2 * t_layout.input.channels == 1024
    for t_spec, r_spec in zip(t_layout.layers[:-1], r_layout.layers[:-1], strict=True):
        assert abs(r_spec.out_channels - 2 * t_spec.out_channels) <= 1
        assert r_spec.conv_kernel == 1 and r_spec.down_radial == (not r_spec.is_critically_sampled)
        assert (r_spec.out_size, r_spec.out_sampling_rate) == (t_spec.out_size, t_spec.out_sampling_rate)
    G = tiny("R")
    assert G.config == "R" and tiny("T").config == "T"
    for spec in G.synthesis.layout.layers[:-1]:
        layer = getattr(G.synthesis, spec.name)
        assert layer.weight.shape[2:] == (1, 1)
        assert layer.down_filter.ndim == (2 if spec.down_radial else 1)


def test_config_r_rotates_its_output_exactly_with_a_90_degree_transform():
    """R is built to be rotation-equivariant; a quarter turn maps the pixel grid onto itself."""
    with torch.no_grad():
        for config, equivariant in (("R", True), ("T", False)):
            G = tiny(config)
            ws = G.mapping(torch.randn(1, 8))
            upright = G.synthesis(ws)
            assert upright.abs().max() > 0.05
            for quarter_turns in (1, 2, 3):
                turned = G.synthesis(ws, transform=make_transform(angle_deg=90.0 * quarter_turns))
                error = (turned - torch.rot90(upright, quarter_turns, dims=(2, 3))).abs().max()
                assert (error < 2e-5) == equivariant, f"{config} {quarter_turns} quarter turns: {error}"


# ---- API and layer table ----------------------------------------------------------------------------

def test_metadata_and_kwarg_layouts():
    G = tiny("T")
    assert (G.family, G.z_dim, G.w_dim, G.c_dim, G.num_ws, G.img_resolution, G.img_channels) == \
        ("stylegan3", 8, 16, 0, 16, 16, 3)
    again = StyleGAN3Generator(**G.init_kwargs)
    assert {k: v.shape for k, v in again.state_dict().items()} == \
        {k: v.shape for k, v in G.state_dict().items()}
    flat = dict(G.init_kwargs)
    nested = {k: flat.pop(k) for k in ("channel_base", "channel_max", "magnitude_ema_beta")}
    from_nested = StyleGAN3Generator(**flat, synthesis_kwargs=nested)
    assert from_nested.synthesis.layer_names == G.synthesis.layer_names
    with pytest.raises(TypeError, match="archtecture"):
        StyleGAN3Generator(**G.init_kwargs, archtecture="skip")
    with torch.no_grad():
        img = G(np.random.RandomState(0).randn(1, 8))
        assert img.shape == (1, 3, 16, 16)
        with pytest.raises(NetblendError, match="ws has shape"):
            G.synthesis(torch.zeros(1, 3, 16))
        with pytest.raises(ValueError, match="noise_mode"):
            G.synthesis(G.mapping(torch.randn(1, 8)), noise_mode="loud")


def test_layer_table_covers_every_key_once():
    G = tiny("T")
    table = G.layers
    names = ["input"] + G.synthesis.layer_names
    assert [entry.name for entry in table] == names and len(table) == G.num_ws
    assert set(table.keys()) == set(G.state_dict())
    assert dict(table[0].params) == {f"synthesis.input.{k}": "const"
                                     for k in ("weight", "freqs", "phases", "affine.weight", "affine.bias")}
    first = G.synthesis.layer_names[0]
    assert dict(table[1].params) == {
        f"synthesis.{first}.weight": "conv", f"synthesis.{first}.bias": "bias",
        f"synthesis.{first}.magnitude_ema": "stat", f"synthesis.{first}.affine.weight": "affine",
        f"synthesis.{first}.affine.bias": "affine"}
    assert {kind for _, kind in table[-1].params} == {"torgb"} and len(table[-1].params) == 5
    assert table.kind_of("synthesis.input.transform") == "fixed"
    assert table.kind_of(f"synthesis.{first}.down_filter") == "fixed"
    assert table.kind_of("mapping.w_avg") == "mapping" and table.layer_of("mapping.fc0.weight") is None
    assert [(e.resolution, e.channels) for e in table][-1] == (16, 3)


# ---- devices ----------------------------------------------------------------------------------------

@pytest.mark.gpu
def test_runs_on_the_gpu_like_on_the_cpu(device):
    G = tiny("T")
    with torch.no_grad():
        ws = G.mapping(torch.randn(2, 8))
        on_cpu = G.synthesis(ws)
        G = G.to(device)
        fp32 = G.synthesis(ws.to(device), force_fp32=True).cpu()
        mixed = G.synthesis(ws.to(device)).cpu()
    torch.testing.assert_close(fp32, on_cpu, rtol=0, atol=1e-3)
    assert mixed.dtype == torch.float32
    assert (mixed - on_cpu).abs().max() <= 0.05 * on_cpu.abs().max()
