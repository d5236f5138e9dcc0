"""StyleGAN2(-ADA): parity with the official outputs, and exact invariants for the configurations
the oracle folder does not cover (orig, resnet, conditional, fused vs unfused modconv)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.errors import NetblendError
from engine.models.build import build_generator
from tests.models.sg2_helpers import assert_close_to_ref, oracle_model, tiny_generator

ORACLE_MODELS = ("sg2_64_A", "sg2_64_B")


@pytest.mark.parametrize("impl", ["ref", "fast"])
@pytest.mark.parametrize("name", ORACLE_MODELS)
def test_mapping_and_synthesis_match_the_official_outputs(oracle, name, impl):
    meta, weights, ref = oracle_model(oracle, name)
    G = build_generator(meta["init_kwargs"], weights)
    G.impl = impl
    for seed in range(3):
        z = ref[f"z_seed{seed}"]  # float64, as RandomState gives it
        assert np.array_equal(z, np.random.RandomState(seed).randn(1, G.z_dim))
        for psi in (1.0, 0.7):
            ws = G.mapping(z, truncation_psi=psi)
            assert_close_to_ref(ws, ref[f"ws_s{seed}_psi{psi}"], f"{name} ws seed {seed} psi {psi}")
            img = G.synthesis(torch.from_numpy(ref[f"ws_s{seed}_psi{psi}"]), noise_mode="const")
            assert img.dtype == torch.float32
            assert_close_to_ref(img, ref[f"img_s{seed}_psi{psi}"], f"{name} image seed {seed} psi {psi}")


@pytest.mark.parametrize("name", ORACLE_MODELS)
def test_derived_layout_matches_the_official_one(oracle, name):
    meta, weights, _ = oracle_model(oracle, name)
    G = build_generator(meta["init_kwargs"], weights)
    assert (G.family, G.config) == ("stylegan2", meta["architecture"])
    assert (G.num_ws, G.z_dim, G.w_dim, G.c_dim) == (meta["num_ws"], meta["z_dim"], meta["w_dim"], meta["c_dim"])
    assert G.synthesis.block_resolutions == meta["block_resolutions"]
    for block in G.synthesis.blocks():
        res = str(block.resolution)
        assert block.out_channels == meta["channels"][res]
        assert block.num_conv == meta["num_conv_per_block"][res]
    assert G.num_parameters() == meta["num_parameters"]
    assert list(G.state_dict()) == [entry["key"] for entry in meta["state_dict"]]


def test_generator_call_is_mapping_then_synthesis_and_never_mutates_state():
    G = tiny_generator("skip")
    before = {k: v.clone() for k, v in G.state_dict().items()}
    z = np.random.RandomState(5).randn(2, G.z_dim)
    img = G(z, truncation_psi=0.5, noise_mode="const")
    assert img.shape == (2, 3, 16, 16) and img.dtype == torch.float32
    expected = G.synthesis(G.mapping(torch.from_numpy(z).float(), truncation_psi=0.5))
    assert torch.equal(img, expected)
    G.train()  # even in training mode the runtime never updates w_avg
    G.mapping(z)
    for key, value in G.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_truncation_pulls_rows_to_w_avg():
    G = tiny_generator("skip")
    z = np.random.RandomState(1).randn(1, G.z_dim)
    w = G.mapping(z)
    assert torch.allclose(G.mapping(z, truncation_psi=0.0), G.mapping.w_avg.expand_as(w), atol=1e-6)
    cut = G.mapping(z, truncation_psi=0.0, truncation_cutoff=2)
    assert torch.allclose(cut[:, :2], G.mapping.w_avg.expand(1, 2, -1), atol=1e-6)
    assert torch.equal(cut[:, 2:], w[:, 2:])
    psi = torch.tensor(0.25)  # a live parameter held in a tensor
    assert torch.allclose(G.mapping(z, truncation_psi=psi), G.mapping(z, truncation_psi=0.25))


def test_noise_modes():
    G = tiny_generator("skip")
    ws = G.mapping(np.random.RandomState(2).randn(1, G.z_dim))
    const = G.synthesis(ws, noise_mode="const")
    assert torch.equal(const, G.synthesis(ws, noise_mode="const"))  # reproducible
    torch.manual_seed(0)
    random_a = G.synthesis(ws, noise_mode="random")
    random_b = G.synthesis(ws, noise_mode="random")
    assert (random_a - random_b).abs().max() > 1e-3
    none = G.synthesis(ws, noise_mode="none")
    assert torch.equal(none, G.synthesis(ws, noise_mode="const", noise_gain=0.0))
    assert (G.synthesis(ws, noise_mode="const", noise_gain=2.0) - const).abs().max() > 1e-3
    with pytest.raises(NetblendError, match="noise_mode"):
        G.synthesis(ws, noise_mode="loud")


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_fused_and_unfused_modulated_conv_agree(architecture):
    G = tiny_generator(architecture, c_dim=2)
    c = np.eye(2)
    ws = G.mapping(np.random.RandomState(3).randn(2, G.z_dim), c)
    fused = G.synthesis(ws, fused_modconv=True)
    unfused = G.synthesis(ws, fused_modconv=False)
    assert torch.allclose(fused, unfused, atol=2e-5 * max(1.0, fused.abs().max().item()), rtol=0)


def test_orig_equals_skip_with_the_intermediate_torgbs_silenced():
    skip = tiny_generator("skip")
    orig = build_generator({**skip.init_kwargs, "architecture": "orig"})
    shared = {k: v for k, v in skip.state_dict().items() if k in orig.state_dict()}
    orig.load_state_dict(shared, strict=True)
    with torch.no_grad():
        for block in skip.synthesis.blocks()[:-1]:
            block.torgb.weight.zero_()  # a zero ToRGB adds only its bias: silence that too
            block.torgb.bias.zero_()
    ws = skip.mapping(np.random.RandomState(4).randn(2, skip.z_dim))
    assert torch.allclose(orig.synthesis(ws), skip.synthesis(ws), atol=1e-6, rtol=0)
    assert not hasattr(orig.synthesis.b8, "torgb") and hasattr(orig.synthesis.b16, "torgb")


def _bilinear_up(x: np.ndarray) -> np.ndarray:
    """2x upsampling with the [1, 3, 3, 1] filter by hand: out[2i] = x[i-1]/4 + 3x[i]/4, zero outside."""
    n = x.shape[-1]
    up = np.zeros([2 * n, n])
    for i in range(n):
        up[2 * i, i] = up[2 * i + 1, i] = 0.75
        if i > 0:
            up[2 * i, i - 1] = 0.25
        if i + 1 < n:
            up[2 * i + 1, i + 1] = 0.25
    return up @ x @ up.T


def test_resnet_block_is_skip_plus_main_path_over_root_two():
    G = tiny_generator("resnet")
    block = G.synthesis.b8
    x = torch.randn(1, block.in_channels, 4, 4, generator=torch.Generator().manual_seed(9))
    ws = G.mapping(np.random.RandomState(6).randn(1, G.z_dim))[:, 1:3]  # b8's two rows
    out, img = block(x, None, ws, torch.float32, None, "const", 1.0)
    assert img is None  # resnet: no ToRGB before the last block
    x64 = x[0].double().numpy()  # [in, 4, 4]
    weight = block.skip.weight[:, :, 0, 0].double().numpy() / math.sqrt(block.in_channels)  # [out, in]
    skip = np.einsum("oi,ihw->ohw", weight, np.stack([_bilinear_up(ch) for ch in x64])) * math.sqrt(0.5)
    main = block.conv1(block.conv0(x, ws[:, 0]), ws[:, 1], gain=math.sqrt(0.5))
    assert np.abs(out[0].double().numpy() - (skip + main[0].double().numpy())).max() < 1e-5


def test_conditional_model_uses_the_label():
    G = tiny_generator("skip", c_dim=3)
    assert "mapping.embed.weight" in G.state_dict()
    z = np.random.RandomState(7).randn(1, G.z_dim)
    images = [G(z, c=np.eye(3)[[k]]) for k in range(3)]
    assert (images[0] - images[1]).abs().max() > 1e-3 and (images[1] - images[2]).abs().max() > 1e-3
    assert torch.equal(G(z, c=torch.eye(3)[[1]]), images[1])
    with pytest.raises(NetblendError, match="conditional"):
        G.mapping(z)
    with pytest.raises(NetblendError, match="c has shape"):
        G.mapping(z, c=np.ones([1, 5]))


def test_conditional_mapping_equals_a_hand_computation():
    """z and the embedded label are each normalised to unit mean square, concatenated, then the fc
    layers run with equalised-lr gains (lr_multiplier / sqrt(fan_in) and lr_multiplier)."""
    G = tiny_generator("skip", c_dim=3)
    sd = {k: v.double().numpy() for k, v in G.state_dict().items()}
    z, c = np.random.RandomState(11).randn(2, G.z_dim), np.array([[0, 1, 0], [0.5, 0, 0.5]])

    def normalise(v):
        return v / np.sqrt((v ** 2).mean(axis=1, keepdims=True) + 1e-8)

    embed = c @ sd["mapping.embed.weight"].T / math.sqrt(3) + sd["mapping.embed.bias"]  # lr_multiplier 1
    x = np.concatenate([normalise(z), normalise(embed)], axis=1)
    for i in range(2):
        weight, bias = sd[f"mapping.fc{i}.weight"], sd[f"mapping.fc{i}.bias"]
        x = x @ (weight * 0.01 / math.sqrt(weight.shape[1])).T + bias * 0.01
        x = np.where(x >= 0, x, 0.2 * x) * math.sqrt(2)
    ws = G.mapping(z, c, truncation_psi=0.6).double().numpy()
    expected = sd["mapping.w_avg"] + 0.6 * (x - sd["mapping.w_avg"])
    assert np.abs(ws - expected[:, None, :]).max() < 1e-5


def test_bad_inputs_are_named():
    G = tiny_generator("skip")
    with pytest.raises(NetblendError, match="z has shape"):
        G.mapping(np.zeros([1, G.z_dim + 1]))
    with pytest.raises(NetblendError, match="ws has shape"):
        G.synthesis(torch.zeros(1, G.num_ws - 1, G.w_dim))
    with pytest.raises(NetblendError, match="no input transform"):
        G.synthesis(torch.zeros(1, G.num_ws, G.w_dim), transform=torch.eye(3))


def test_numpy_float64_z_is_cast_to_float32():
    G = tiny_generator("skip")
    z = np.random.RandomState(8).randn(3, G.z_dim)
    assert torch.equal(G.mapping(z), G.mapping(torch.from_numpy(z.astype(np.float32))))


def test_impl_selects_the_op_implementation_everywhere():
    G = tiny_generator("resnet")
    ws = G.mapping(np.random.RandomState(0).randn(1, G.z_dim))
    G.impl = "ref"
    assert {m.impl for m in G.modules() if hasattr(m, "impl") and m is not G} == {"ref"}
    ref = G.synthesis(ws)
    G.impl = "fast"
    assert {m.impl for m in G.modules() if hasattr(m, "impl") and m is not G} == {"fast"}
    fast = G.synthesis(ws)
    assert torch.allclose(fast, ref, atol=1e-5, rtol=0)
    assert fast.is_contiguous()  # plain NCHW for the uint8 conversion, whatever layout the ops used
    with pytest.raises(ValueError, match="warp-speed"):
        G.impl = "warp-speed"
    assert G.impl == "fast"


def test_fp16_blocks_run_in_fp32_on_cpu():
    G16 = tiny_generator("skip", num_fp16_res=2)
    G32 = tiny_generator("skip")
    assert G16.synthesis.b16.use_fp16 and not G32.synthesis.b16.use_fp16
    ws = G32.mapping(np.random.RandomState(0).randn(1, G32.z_dim))
    assert torch.equal(G16.synthesis(ws), G32.synthesis(ws))


def test_fp16_block_path_runs_in_half_and_stays_close():
    """The CUDA fp16 path, forced on CPU block by block: half activations, float32 image."""
    G = tiny_generator("resnet", c_dim=2, num_fp16_res=2)
    ws = G.mapping(np.random.RandomState(0).randn(2, G.z_dim), np.eye(2))
    ref = G.synthesis(ws)
    x = img = None
    w_idx = 0
    for block in G.synthesis.blocks():
        dtype = torch.float16 if block.use_fp16 else torch.float32
        x, img = block(x, img, ws.narrow(1, w_idx, block.num_conv + block.num_torgb), dtype, None, "const", 1.0)
        assert x.dtype == dtype
        w_idx += block.num_conv
    assert img.dtype == torch.float32
    assert (img - ref).abs().max() <= 0.02 * ref.abs().max()


@pytest.mark.gpu
def test_gpu_matches_cpu(device):
    G = tiny_generator("skip", c_dim=2)
    z, c = np.random.RandomState(0).randn(2, G.z_dim), np.eye(2)
    cpu = G(z, c)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out = G.to(device)(z, c)
    assert out.device.type == device and out.dtype == torch.float32
    assert torch.allclose(out.cpu(), cpu, atol=1e-4 * max(1.0, cpu.abs().max().item()), rtol=0)
    if device == "cuda":  # fp16 blocks: a looser, relative check
        G16 = tiny_generator("skip", c_dim=2, num_fp16_res=2).to(device)
        half = G16(z, c)
        assert half.dtype == torch.float32
        assert (half.cpu() - cpu).abs().max() <= 0.05 * cpu.abs().max()
