"""BlendedGenerator against the official blend reference, plain generators built from lerped state
dicts, layer swaps made by copying tensors, N-way rows, bad values and incompatible models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine
from engine.blend import masks
from engine.blend.generator import BlendedGenerator
from engine.blend.spec import parse_mask
from engine.errors import IncompatibleModels, NetblendError


def close(out: torch.Tensor, ref) -> bool:
    ref = torch.as_tensor(ref)
    return float((out - ref).abs().max()) <= 2e-5 * max(1.0, float(ref.abs().max()))


def render(G, seed: int = 0, psi: float = 1.0) -> torch.Tensor:
    z = torch.from_numpy(engine.seed_to_z(seed, G.z_dim)).float()
    with torch.inference_mode():
        return G.synthesis(G.mapping(z, None, truncation_psi=psi), noise_mode="const")


def lerped(models, t_of_key) -> torch.nn.Module:
    """A plain generator whose state dict is lerp(A, B, t_key) (fixed keys from A)."""
    A, B = models
    sa, sb = A.state_dict(), B.state_dict()
    fixed = set(A.layers.fixed)
    sd = {k: v if k in fixed else torch.lerp(v, sb[k], t_of_key(k)) for k, v in sa.items()}
    return engine.build_generator(A.init_kwargs, sd)


def test_official_blend_swap_matches_reference(oracle, sg2_pair):
    ref = np.load(oracle / "sg2_64_blend_swap_ref.npz")
    G = BlendedGenerator(sg2_pair)
    G.apply(parse_mask("4:0,8:0,16:1,32:1,64:1", G.layers))
    for seed in (0, 1, 2):
        for psi in (1.0, 0.7):
            z = torch.from_numpy(ref[f"z_seed{seed}"]).float()
            with torch.inference_mode():
                ws = G.mapping(z, None, truncation_psi=psi)
                img = G.synthesis(ws, noise_mode="const")
            assert close(ws, ref[f"ws_s{seed}_psi{psi}"])
            assert close(img, ref[f"img_s{seed}_psi{psi}"]), f"seed {seed} psi {psi}"


def test_random_per_layer_t_with_overblend_equals_lerped_state_dict(sg2_pair):
    A, _ = sg2_pair
    rng = np.random.default_rng(3)
    t = rng.uniform(-0.5, 1.7, len(A.layers))
    t[0], t[-1] = -0.5, 1.7
    G = BlendedGenerator(sg2_pair)
    G.set_blend(layers=dict(enumerate(t)), mapping=0.4)

    def t_of_key(key):
        layer = A.layers.layer_of(key)
        return 0.4 if layer is None else float(t[layer])

    expected = lerped(sg2_pair, t_of_key)
    assert close(render(G, 1, 0.7), render(expected, 1, 0.7))
    assert not close(render(G, 1, 0.7), render(A, 1, 0.7))


def test_kind_and_resolution_overrides_follow_the_documented_rule(sg2_pair):
    A, _ = sg2_pair
    G = BlendedGenerator(sg2_pair)
    state = masks.compose({"blend.layer.2": 0.5, "blend.kind.torgb": 1.0, "blend.kind.torgb.amount": 0.5},
                          len(A.layers), resolutions={32: 2.0})
    G.apply(state)
    rows = G.coefficients()
    assert rows["synthesis.b8.conv1.weight"] == pytest.approx([0.5, 0.5])          # layer 2
    assert rows["synthesis.b8.conv0.weight"] == pytest.approx([1.0, 0.0])          # layer 1: A
    assert rows["synthesis.b4.torgb.weight"] == pytest.approx([0.5, 0.5])          # lerp(0, 1, 0.5)
    assert rows["synthesis.b32.conv0.weight"] == pytest.approx([-1.0, 2.0])        # block 32 override
    assert rows["synthesis.b32.torgb.bias"] == pytest.approx([-0.5, 1.5])          # lerp(2, 1, 0.5)
    assert rows["mapping.w_avg"] == pytest.approx([1.0, 0.0])


def test_apply_is_free_when_nothing_changed_and_rewrites_only_changed_layers(sg2_pair):
    A, _ = sg2_pair
    G = BlendedGenerator(sg2_pair)
    values = masks.defaults(len(A.layers))
    assert G.apply(masks.compose(values, len(A.layers))) == 0           # equals the initial blend
    values["blend.layer.4"], values["blend.hold.4"] = 0.3, 1.0            # fader 4 moved
    assert G.apply(masks.compose(values, len(A.layers))) == len(A.layers[4].keys)
    assert G.apply(masks.compose(dict(values), len(A.layers))) == 0


def test_nan_and_bad_values_are_rejected_and_the_last_good_blend_stays(sg2_pair):
    G = BlendedGenerator(sg2_pair)
    G.set_blend(layers={1: 0.25})
    before = G.coefficients()
    for bad in ({"layers": {1: math.nan}}, {"mapping": math.inf}, {"layers": {99: 0.5}},
                {"resolutions": {12: 1.0}}, {"kinds": {"colour": 1.0}}):
        with pytest.raises(NetblendError):
            G.set_blend(**bad)
    assert G.coefficients() == before


def test_set_blend_values_persist_across_calls_until_reset(sg2_pair):
    A, B = sg2_pair
    G = BlendedGenerator(sg2_pair)
    G.set_blend(resolutions={32: 1.0}, kinds={"torgb": 0.5}, mapping=0.25)
    G.set_blend(layers={0: 0.5})                                          # names only layer 0
    rows = G.coefficients()
    assert rows["synthesis.b4.conv1.weight"] == pytest.approx([0.5, 0.5])
    assert rows["synthesis.b32.conv0.weight"] == pytest.approx([0.0, 1.0])        # block 32 override kept
    assert rows["synthesis.b16.torgb.weight"] == pytest.approx([0.5, 0.5])        # kind override kept
    assert rows["mapping.fc0.weight"] == pytest.approx([0.75, 0.25])               # mapping kept
    G.set_blend(resolutions={32: None}, kinds={"torgb": None})                     # None drops an override
    rows = G.coefficients()
    assert rows["synthesis.b32.conv0.weight"] == pytest.approx([1.0, 0.0])
    assert rows["synthesis.b16.torgb.weight"] == pytest.approx([1.0, 0.0])
    assert rows["synthesis.b4.conv1.weight"] == pytest.approx([0.5, 0.5])

    G.set_blend(resolutions={32: 1.0}, kinds={"noise": 1.0})
    G.set_blend(layers={3: 1.0}, reset=True)                              # A everywhere except layer 3
    rows = G.coefficients()
    assert {k: r for k, r in rows.items() if r != [1.0, 0.0]} == {k: [0.0, 1.0] for k in A.layers[3].keys}
    G.set_blend(resolutions={64: 1.0}, mapping=1.0)
    assert G.reset_blend() > 0
    assert all(row == [1.0, 0.0] for row in G.coefficients().values())
    assert torch.equal(render(G, 1), render(A, 1))                        # really model A again


def test_reset_keeps_the_safety_range_and_drops_nway_rows(sg2_pair):
    A, B = sg2_pair
    G = BlendedGenerator([A, B, A])
    G.set_safety(-0.5, 1.5)
    G.set_weights([0.0, 1.0, 1.0], mode="free")
    G.set_blend(layers={2: 3.0}, reset=True)
    rows = G.coefficients()
    assert rows["synthesis.b8.conv1.weight"] == pytest.approx([-0.5, 1.5, 0.0])   # clamped by the kept range
    assert rows["synthesis.b16.conv0.weight"] == pytest.approx([1.0, 0.0, 0.0])   # the N-way row is gone


def test_a_refused_reset_changes_nothing(sg2_pair):
    G = BlendedGenerator(sg2_pair)
    G.set_blend(layers={1: 0.25}, resolutions={16: 1.0})
    before = G.coefficients()
    with pytest.raises(NetblendError, match="layer 99"):
        G.set_blend(layers={99: 1.0}, reset=True)
    assert G.coefficients() == before


def test_safety_range_clamps(sg2_pair):
    G = BlendedGenerator(sg2_pair)
    G.set_safety(-1.0, 2.0)
    G.set_blend(layers={0: 5.0, 1: -4.0})
    rows = G.coefficients()
    assert rows["synthesis.b4.conv1.weight"] == pytest.approx([-1.0, 2.0])
    assert rows["synthesis.b8.conv0.weight"] == pytest.approx([2.0, -1.0])


def test_nway_free_and_convex_rows(sg2_pair):
    A, B = sg2_pair
    G = BlendedGenerator([A, B, A])
    G.set_weights([1.0, 1.0, 2.0])                                      # convex: normalised
    assert G.coefficients()["synthesis.b16.conv0.weight"] == pytest.approx([0.25, 0.25, 0.5])
    G.set_weights({3: [0.0, 1.5, -0.2]}, mode="free")                   # base + 1.5 (B - A) - 0.2 (A - A)
    sa, sb = A.state_dict(), B.state_dict()
    key = "synthesis.b16.conv0.weight"
    live = G.state_dict()[key]
    assert torch.allclose(live, sa[key] + 1.5 * (sb[key] - sa[key]), atol=1e-5)
    with pytest.raises(NetblendError, match="convex"):
        G.set_weights([1.0, -1.0, 0.0])
    with pytest.raises(NetblendError, match="3 weights"):
        G.set_weights([1.0, 0.0])


def test_incompatible_models_name_the_mismatched_layers(sg2_pair, sg3_models):
    A, _ = sg2_pair
    small = engine.build_generator({**A.init_kwargs, "img_resolution": 32})
    with pytest.raises(IncompatibleModels, match=r"synthesis\.b64.* only in A.*resolution"):
        BlendedGenerator([A, small])
    narrow = engine.build_generator({**A.init_kwargs, "channel_max": 64})
    with pytest.raises(IncompatibleModels, match=r"synthesis\.b4\.const \(layer 0.*\[128, 4, 4\] vs \[64, 4, 4\]"):
        BlendedGenerator([A, narrow])
    with pytest.raises(IncompatibleModels, match="families"):
        BlendedGenerator([A, sg3_models[0]])
    with pytest.raises(IncompatibleModels, match="two or more"):
        BlendedGenerator([A])


# ------------------------------------------------------------------------- StyleGAN3
def test_sg3_endpoints_and_one_hot_nway_reproduce_the_models_exactly(sg3_models):
    A, B, C = sg3_models
    G = BlendedGenerator([A, B, C])
    assert torch.equal(render(G), render(A))
    G.set_weights([0.0, 1.0, 0.0], mapping=[0.0, 1.0, 0.0])
    assert torch.equal(render(G), render(B))
    G.set_weights([0.0, 0.0, 1.0], mapping=[0.0, 0.0, 1.0])
    for key, value in C.state_dict().items():
        assert torch.equal(G.state_dict()[key], value), key


def test_sg3_hard_crossover_equals_a_layer_swap_by_copying_tensors(sg3_models):
    A, B, _ = sg3_models
    G = BlendedGenerator([A, B])
    G.apply(masks.compose(masks.crossover(A.layers, 52), len(A.layers)))   # B from layer 5 (L4_52) up
    swapped = {k: v.clone() for k, v in A.state_dict().items()}
    for entry in A.layers[5:]:
        for key in entry.keys:
            swapped[key] = B.state_dict()[key].clone()
    expected = engine.build_generator(A.init_kwargs, swapped)
    assert torch.equal(render(G, 2), render(expected, 2))


def test_sg3_random_t_equals_lerped_state_dict(sg3_models):
    A, B, _ = sg3_models
    t = np.linspace(-0.5, 1.7, len(A.layers))
    G = BlendedGenerator([A, B])
    G.set_blend(layers=dict(enumerate(t)), mapping=0.6)

    def t_of_key(key):
        layer = A.layers.layer_of(key)
        return 0.6 if layer is None else float(t[layer])

    assert close(render(G, 1), render(lerped((A, B), t_of_key), 1))


# ------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_gpu_blend_updates_in_place_without_allocating_and_keeps_a_captured_graph_valid(sg2_pair, device):
    if device != "cuda":
        pytest.skip("allocation counters and CUDA graphs exist on CUDA only")
    A, B = (engine.build_generator(G.init_kwargs, G.state_dict(), device=device) for G in sg2_pair)
    G = BlendedGenerator([A, B])
    n = len(G.layers)
    z = torch.from_numpy(engine.seed_to_z(0, G.z_dim)).float().to(device)
    with torch.inference_mode():
        ws = G.mapping(z, None)
    states = [masks.compose({"blend.curve.amount": 1.0, "blend.curve.center": c, "blend.curve.width": 1.0}, n)
              for c in (0.2, 0.5, 0.8)]
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    G.apply(states[0])
    with torch.inference_mode():
        G.synthesis(ws)                                              # warm-up before measuring
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    G.apply(states[1])
    G.apply(states[2])
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == before                   # no allocation per blend change
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.inference_mode(), torch.cuda.stream(stream):
        G.synthesis(ws)
    torch.cuda.current_stream().wait_stream(stream)
    with torch.inference_mode(), torch.cuda.graph(graph):
        captured = G.synthesis(ws)
    for state in states:
        G.apply(state)
        graph.replay()
        with torch.inference_mode():
            eager = G.synthesis(ws)
        assert close(captured.cpu(), eager.cpu())                      # the graph sees the new weights
    cpu = BlendedGenerator(sg2_pair)
    cpu.apply(states[0])
    G.apply(states[0])
    assert close(render(G).cpu(), render(cpu))


def test_blend_built_and_driven_under_inference_mode_renders_outside_it_too():
    kwargs = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, mapping_kwargs={"num_layers": 2},
                  channel_base=128, channel_max=16)
    with torch.inference_mode():                          # e.g. a model-loader thread
        A, B = engine.build_generator(kwargs), engine.build_generator(kwargs)
        G = BlendedGenerator([A, B])
        G.apply(masks.compose({"blend.layer.1": 0.5}, len(G.layers)))
        inside = G(torch.zeros(1, 16))
    G.set_blend(layers={1: 0.5})
    assert torch.equal(G(torch.zeros(1, 16)), inside)


def test_live_nway_weights_add_a_third_model_in_free_form(sg3_models):
    """blend.model.2 adds model C on every synthesis layer: A + t (B - A) + w (C - A); mapping stays A-B."""
    A, B, C = sg3_models
    G = BlendedGenerator([A, B, C])
    values = {**masks.defaults(len(A.layers)), **{f"blend.layer.{i}": 0.5 for i in range(len(A.layers))},
              **{f"blend.hold.{i}": 1.0 for i in range(len(A.layers))},
              "blend.model.2": 0.25}
    assert "blend.model.2" in {s.name for s in masks.params(len(A.layers), num_models=3)}
    assert "blend.model.2" not in {s.name for s in masks.params(len(A.layers))}
    G.apply(masks.compose(values, len(A.layers), num_models=3))
    sa, sb, sc = A.state_dict(), B.state_dict(), C.state_dict()
    live = G.state_dict()
    fixed = set(A.layers.fixed)
    for key, a in sa.items():
        if key in fixed:
            continue
        if key.startswith("mapping."):
            expect = a
        else:
            expect = a + 0.5 * (sb[key] - a) + 0.25 * (sc[key] - a)
        assert torch.allclose(live[key], expect, rtol=1e-5, atol=1e-6), key
    G.apply(masks.compose({**masks.defaults(len(A.layers)), "blend.model.2": 1.0}, len(A.layers), num_models=3))
    assert all(torch.allclose(G.state_dict()[k], sc[k], atol=1e-6) for k in sc if not k.startswith("mapping."))
