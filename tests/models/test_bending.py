"""Network bending on StyleGAN2 and StyleGAN3: each op against an independent computation of what it
promises (rot90, roll, flip, grid_sample), ablation reaching the next layer, zero amounts leaving
frames bit-identical with no hook installed, and per-frame updates that write in place."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.blend.generator import BlendedGenerator
from engine.core.params import ParamRegistry
from engine.models.bending import OPS, NetworkBender, bendable_modules, param_name, params
from engine.models.build import build_generator
from engine.models.generator import GeneratorInputError
from engine.models.stylegan3 import stylegan3_kwargs
from tests.models.sg2_helpers import tiny_generator


def tiny_sg3(config: str = "T"):
    torch.manual_seed(0)
    return build_generator(stylegan3_kwargs(config, 16, z_dim=8, w_dim=16, channel_base=256, channel_max=16))


# (maker, a layer with a square map of even width 16 or 36, its width)
MODELS = {"sg2": (lambda: tiny_generator("skip"), 3, 16), "sg3": (lambda: tiny_sg3(), 2, 36)}


@pytest.fixture(params=list(MODELS))
def model(request):
    make, layer, width = MODELS[request.param]
    return make(), layer, width


def render(G) -> torch.Tensor:
    with torch.inference_mode():
        return G(np.random.RandomState(3).randn(2, G.z_dim), truncation_psi=0.8)


def assert_same(bent: torch.Tensor, expected: torch.Tensor, width: int) -> None:
    """Bit-identical on power-of-two maps (every StyleGAN2 map); StyleGAN3's margins give other sizes,
    where grid_sample's normalisation rounds the sample positions: within 1e-6 of the map's range."""
    if width & (width - 1) == 0:
        assert torch.equal(bent, expected)
    else:
        torch.testing.assert_close(bent, expected, rtol=0, atol=1e-6 * float(expected.abs().max()))


def features(G, layer: int, next_input: bool = False) -> torch.Tensor:
    """Layer ``layer``'s output as bent (a hook after the bending hook), or the next layer's input."""
    modules = bendable_modules(G)
    seen: list[torch.Tensor] = []
    if next_input:
        handle = modules[layer + 1].register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    else:
        handle = modules[layer].register_forward_hook(lambda m, args, out: seen.append(out.clone()))
    try:
        render(G)
    finally:
        handle.remove()
    return seen[0]


def test_params_name_every_op_of_every_layer_with_zero_defaults():
    specs = params(14)
    assert [s.name for s in specs][:len(OPS)] == [f"bend.0.{op}" for op in OPS]
    assert len(specs) == 14 * len(OPS) and specs[-1].name == "bend.13.ablate"
    assert param_name(3, "rotate") == "bend.3.rotate" and "bend.3.rotate" in {s.name for s in specs}
    assert all(s.default == 0.0 and s.lo <= 0.0 <= s.hi and s.kind == "float" for s in specs)
    registry = ParamRegistry()
    registry.add_all(specs)
    assert registry.snapshot(0.0).values["bend.13.ablate"] == 0.0


def test_zero_amounts_install_nothing_and_leave_frames_bit_identical(model):
    G, layer, _ = model
    before = render(G)
    bender = NetworkBender(G)
    assert bender.update({spec.name: spec.default for spec in params(len(G.layers))}) is False
    assert all(not m._forward_hooks for m in bender.modules)           # nothing runs: zero cost
    assert torch.equal(render(G), before)
    bender.update({param_name(layer, "rotate"): 30.0, param_name(layer + 1, "multiply"): 0.5})
    assert bender.signature == ((layer, ("rotate",)), (layer + 1, ("multiply",)))
    assert not torch.equal(render(G), before)
    bender.update({})                                                   # all back to 0
    assert bender.signature == () and all(not m._forward_hooks for m in bender.modules)
    assert torch.equal(render(G), before)


def test_rotate_90_on_a_square_map_is_rot90_of_that_layers_features(model):
    G, layer, width = model
    plain = features(G, layer)
    assert plain.shape[-2:] == (width, width)
    bender = NetworkBender(G)
    bender.set(layer, "rotate", 90.0)
    assert_same(features(G, layer), torch.rot90(plain, 1, dims=(2, 3)), width)
    bender.set(layer, "rotate", -180.0)
    assert_same(features(G, layer), torch.rot90(plain, 2, dims=(2, 3)), width)


def test_integer_translation_is_a_roll_with_wrap_around_padding(model):
    G, layer, width = model
    plain = features(G, layer)
    bender = NetworkBender(G)
    bender.update({param_name(layer, "translate_x"): 2 / width, param_name(layer, "translate_y"): -3 / width})
    assert_same(features(G, layer), torch.roll(plain, shifts=(-3, 2), dims=(2, 3)), width)
    bender.update({param_name(layer, "translate_x"): 1.0})             # one full turn: back where it was
    assert_same(features(G, layer), plain, width)


def test_flip_mirrors_and_scale_and_rotate_sample_like_grid_sample(model):
    G, layer, width = model
    plain = features(G, layer)
    bender = NetworkBender(G)
    bender.set(layer, "flip", 1.0)
    assert_same(features(G, layer), torch.flip(plain, dims=(3,)), width)
    bender.set(layer, "flip", 0.0)
    for op, amount in (("scale", 1.0), ("rotate", 30.0)):
        bender.set(layer, op, amount)
        c = (width - 1) / 2
        d = torch.arange(width, dtype=torch.float32) - c
        dy, dx = torch.meshgrid(d, d, indexing="ij")
        angle = math.radians(amount) if op == "rotate" else 0.0
        zoom = 2.0 if op == "scale" else 1.0
        sx = (math.cos(angle) * dx - math.sin(angle) * dy) / zoom + c          # source pixel of each output
        sy = (math.sin(angle) * dx + math.cos(angle) * dy) / zoom + c
        grid = torch.stack([2 * sx / (width - 1) - 1, 2 * sy / (width - 1) - 1], dim=-1)
        expected = F.grid_sample(plain, grid.expand(plain.shape[0], -1, -1, -1), align_corners=True)
        inside = ((sx >= 0) & (sx <= width - 1) & (sy >= 0) & (sy <= width - 1))   # wrap-around aside
        bent = features(G, layer)
        assert inside.float().mean() > 0.6
        assert torch.allclose(bent[..., inside], expected[..., inside], atol=2e-3 * float(plain.abs().max()))
        bender.set(layer, op, 0.0)


def test_invert_and_multiply_follow_their_formulas(model):
    G, layer, _ = model
    plain = features(G, layer)
    bender = NetworkBender(G)
    bender.set(layer, "multiply", 1.0)
    assert torch.equal(features(G, layer), plain * 2)
    bender.set(layer, "multiply", 0.0)
    bender.set(layer, "invert", 1.0)
    mean = plain.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(features(G, layer), 2 * mean - plain, atol=1e-6)


def test_ablating_everything_zeroes_the_layer_output_before_the_next_layer(model):
    G, layer, _ = model
    assert features(G, layer, next_input=True).abs().sum() > 0
    bender = NetworkBender(G, seed=7)
    bender.set(layer, "ablate", 1.0)
    assert torch.equal(features(G, layer, next_input=True), torch.zeros_like(features(G, layer)))
    bender.set(layer, "ablate", 0.5)
    zeroed = (features(G, layer).abs().sum(dim=(0, 2, 3)) == 0).nonzero().flatten().tolist()
    channels = features(G, layer).shape[1]
    assert len(zeroed) == channels // 2                                 # exactly that fraction
    other = NetworkBender(G, seed=8)                                    # another seed, other channels
    bender.reset()
    other.set(layer, "ablate", 0.5)
    assert (features(G, layer).abs().sum(dim=(0, 2, 3)) == 0).nonzero().flatten().tolist() != zeroed


def test_bending_a_blended_generator_bends_its_live_copy():
    A = tiny_generator("skip")
    B = BlendedGenerator([A, tiny_generator("skip", seed=4)])
    B.set_blend(layers={i: 0.5 for i in range(len(B.layers))})
    before = render(B)
    bender = NetworkBender(B)
    assert bender.modules[0] is B.live.synthesis.b4.conv1
    bender.set(2, "rotate", 45.0)
    assert not torch.equal(render(B), before)
    assert all(not m._forward_hooks for m in bendable_modules(A))       # model A itself untouched
    bender.reset()
    assert torch.equal(render(B), before)


def test_updates_write_the_amounts_in_place_and_skip_unchanged_frames():
    G = tiny_generator("skip")
    bender = NetworkBender(G)
    storage = bender.amounts.data_ptr()
    values = {param_name(1, "scale"): 0.5}
    assert bender.update(values) is True
    assert bender.update(dict(values)) is False                         # same values: nothing touched
    bender.update({param_name(1, "scale"): -0.25, param_name(4, "ablate"): 0.3})
    assert bender.amounts.data_ptr() == storage
    assert bender.amounts[1, OPS.index("scale")] == -0.25 and bender.amounts[4, OPS.index("ablate")] == 0.3
    assert bender.signature == ((1, ("scale",)), (4, ("ablate",)))


def test_the_transforms_never_read_a_device_value_on_the_host(monkeypatch):
    """Every way a tensor's value reaches Python (a host sync on a GPU) raises while the hook runs."""
    G = tiny_generator("skip")
    bender = NetworkBender(G)
    for op in OPS:
        bender.set(3, op, 0.3)
    x = features(G, 3)

    def refuse(*args, **kwargs):
        raise AssertionError("a device value was read on the host")

    for name in ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    with torch.inference_mode():
        out = bender.bend(3, x)
    monkeypatch.undo()
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_a_bender_made_under_inference_mode_is_driven_outside_it_and_back():
    G = tiny_generator("skip")
    with torch.inference_mode():                          # e.g. made on a model-loader thread
        bender = NetworkBender(G)
        bender.set(3, "rotate", 10.0)
        inside = render(G)
    bender.set(3, "rotate", 20.0)                         # driven by the render loop, outside it
    with torch.no_grad():
        outside = G(np.random.RandomState(3).randn(2, G.z_dim), truncation_psi=0.8)
    assert not torch.equal(outside, inside)
    bender.set(3, "rotate", 10.0)
    assert torch.equal(render(G), inside)


def test_a_half_precision_layer_stays_half_when_bent():
    G = tiny_generator("skip", num_fp16_res=2)
    G.precision = "fp16"
    bender = NetworkBender(G)
    for op in OPS:
        bender.set(4, op, 0.25)
    bent = features(G, 4)
    assert bent.dtype == torch.float16 and torch.isfinite(bent).all()


def test_bad_calls_are_named():
    bender = NetworkBender(tiny_generator("skip"))
    with pytest.raises(GeneratorInputError, match="unknown bending op 'twist'"):
        bender.set(1, "twist", 1.0)
    with pytest.raises(GeneratorInputError, match="layer 99 does not exist"):
        bender.set(99, "rotate", 1.0)
    with pytest.raises(GeneratorInputError, match="not a finite number"):
        bender.set(1, "rotate", math.nan)
    assert bender.signature == ()


@pytest.mark.gpu
def test_bending_on_the_gpu_matches_the_cpu_and_never_syncs_the_host(device):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    G = tiny_generator("skip")
    G.precision = "fp32"
    D = build_generator(G.init_kwargs, G.state_dict(), device=device)
    D.precision = "fp32"
    on_cpu, on_device = NetworkBender(G), NetworkBender(D)
    ws = G.mapping(np.random.RandomState(3).randn(2, G.z_dim))
    ws_device = ws.to(device)
    values = {param_name(3, op): 0.2 for op in OPS}
    with torch.inference_mode():
        on_device.update(values)
        D.synthesis(ws_device)                                          # warm-up: grids and ranks exist
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")
        try:
            for angle in (10.0, 20.0, 30.0):                            # a value that changes every frame
                on_device.update({**values, param_name(3, "rotate"): angle})
                bent = D.synthesis(ws_device)
        finally:
            if device == "cuda":
                torch.cuda.set_sync_debug_mode(0)
        on_cpu.update({**values, param_name(3, "rotate"): 30.0})
        expected = G.synthesis(ws)
    assert torch.allclose(bent.cpu(), expected, atol=1e-4 * max(1.0, float(expected.abs().max())))
