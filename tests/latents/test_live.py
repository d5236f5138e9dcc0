import math

import numpy as np
import pytest
import torch

from engine.core.clock import FakeClock, FrameTime
from engine.core.params import ParamRegistry
from engine.errors import LatentFileError
from engine.latents import EASINGS, NOISE_MODES, WALK_MODES, LatentEngine, SeedBank, params, save_latent
from engine.latents.live import input_transform


def values(**kw):
    """A snapshot-like mapping of latent.* values; choices by name."""
    names = {"mode": WALK_MODES, "space": ("z", "w"), "easing": EASINGS, "noise_mode": NOISE_MODES}
    out = {}
    for key, value in kw.items():
        if key in names:
            value = names[key].index(value)
        name = "latent.noise.mode" if key == "noise_mode" else (
            f"latent.walk.{key}" if key in ("mode", "space", "easing", "period", "beats", "radius", "momentum")
            else f"latent.{key.replace('_', '.')}")
        out[name] = float(value)
    return out


def at(t, beat=None):
    return FrameTime(frame=0, t=t, dt=0.0, beat=t * 2.0 if beat is None else beat, bpm=120.0)


def test_params_declare_the_live_controls(sg2):
    registry = ParamRegistry()
    registry.add_all(params(sg2))
    for name in ("latent.seed", "latent.psi", "latent.cutoff", "latent.next_seed", "latent.mix.amount",
                 "latent.mix.start", "latent.walk.mode", "latent.walk.period", "latent.walk.beats",
                 "latent.walk.space", "latent.noise.mode", "latent.noise.strength"):
        assert name in registry
    assert "latent.xform.x" not in registry and "latent.class" not in registry    # SG2, unconditional
    assert registry.set("latent.walk.mode", "slerp") == WALK_MODES.index("slerp")
    assert registry.set("latent.cutoff", 99) == sg2.num_ws


def test_still_seed_renders_the_official_image(sg2, oracle):
    ref = np.load(oracle / "sg2_64_A_ref.npz")
    engine = LatentEngine(sg2)
    ws = engine.ws(values(seed=1, psi=0.7), at(0.0))
    with torch.no_grad():
        img = sg2.synthesis(ws, **engine.synthesis_kwargs(values(seed=1, psi=0.7), at(0.0)))
    expected = ref["img_s1_psi0.7"]
    assert np.abs(img.numpy() - expected).max() <= 2e-5 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("mode", WALK_MODES)
@pytest.mark.parametrize("space", ["z", "w"])
def test_same_time_gives_same_w(sg2, mode, space):
    v = values(seed=5, mode=mode, space=space, period=0.5, radius=0.7)
    ticking, fresh = LatentEngine(sg2), LatentEngine(sg2)
    clock = FakeClock(fps=30)
    path = [(ft, ticking.ws(v, ft).clone()) for ft in (clock.tick() for _ in range(24))]
    for ft, ws in reversed(path[::5]):               # backwards and skipping frames: still the same
        assert torch.equal(fresh.ws(v, ft), ws)
    if mode != "off":
        assert not torch.equal(path[3][1], path[10][1])   # it does move


@pytest.mark.parametrize("mode", ["noise", "circle", "lerp", "slerp"])
@pytest.mark.parametrize("space", ["z", "w"])
def test_loops_close_exactly(sg2, mode, space):
    engine = LatentEngine(sg2)
    period = 1.5
    if mode in ("lerp", "slerp"):
        engine.set_keyframes([3, 8, 11])
    loop = period * (3 if mode in ("lerp", "slerp") else 1)
    v = values(seed=3, mode=mode, space=space, period=period)
    start = engine.ws(v, at(0.0))
    assert torch.equal(engine.ws(v, at(loop)), start)
    assert torch.equal(engine.ws(v, at(2 * loop)), start)
    near = engine.ws(v, at(loop - 1e-4))
    away = engine.ws(v, at(loop / 2))
    assert (near - start).abs().max() < 1e-2 * (away - start).abs().max()   # smooth across the seam


def test_keyframe_walk_passes_each_keyframe(sg2):
    engine, bank = LatentEngine(sg2), SeedBank(sg2)
    engine.set_keyframes([4, 9])
    v = values(mode="slerp", period=2.0, psi=0.7)
    assert torch.equal(engine.ws(v, at(2.0)), engine.ws(v, at(2.0)))
    assert torch.allclose(engine.ws(v, at(2.0)), bank.ws(9, 0.7), atol=1e-5)
    assert torch.allclose(engine.ws(v, at(4.0)), bank.ws(4, 0.7), atol=1e-5)
    mid_z, mid_w = engine.ws(v, at(1.0)), engine.ws({**v, **values(space="w")}, at(1.0))
    assert not torch.allclose(mid_z, mid_w, atol=1e-3)                  # Z and W walks differ in between


def test_seed_walk_without_keyframes_visits_consecutive_seeds(sg2):
    engine, bank = LatentEngine(sg2), SeedBank(sg2)
    v = values(seed=20, mode="lerp", period=1.0)
    for k in range(3):
        assert torch.allclose(engine.ws(v, at(float(k))), bank.ws(20 + k), atol=1e-6)


def test_beats_mode_follows_the_beat_not_the_seconds(sg2):
    engine = LatentEngine(sg2)
    v = values(seed=2, mode="noise", period=4.0, beats=1)
    a = engine.ws(v, FrameTime(0, 1.0, 0.0, beat=2.0, bpm=120.0))
    b = LatentEngine(sg2).ws(v, FrameTime(0, 5.0, 0.0, beat=2.0, bpm=60.0))
    assert torch.equal(a, b)                                             # same beat, other seconds
    seconds = LatentEngine(sg2).ws(values(seed=2, mode="noise", period=4.0), at(2.0))
    assert torch.equal(a, seconds)                                       # beat 2 of 4 == second 2 of 4
    assert torch.equal(engine.ws(v, FrameTime(0, 9.0, 0.0, beat=4.0, bpm=120.0)),
                       engine.ws(v, FrameTime(0, 0.0, 0.0, beat=0.0, bpm=120.0)))


def test_period_change_does_not_jump(sg2):
    engine = LatentEngine(sg2)
    v = values(seed=1, mode="noise", period=2.0)
    before = engine.ws(v, at(1.0))
    after = engine.ws({**v, "latent.walk.period": 8.0}, at(1.0))
    assert torch.equal(before, after)
    assert (engine.ws({**v, "latent.walk.period": 8.0}, at(1.01)) - after).abs().max() < 0.05


def test_style_mixing_replaces_the_chosen_rows(sg2):
    engine, bank = LatentEngine(sg2), SeedBank(sg2)
    base, other = bank.ws(0), bank.ws(6)
    mixed = engine.ws(values(seed=0, mix_seed=6, mix_start=2, mix_end=5, mix_amount=1.0), at(0.0))
    assert torch.equal(mixed[:, 2:5], other[:, 2:5])
    assert torch.equal(mixed[:, :2], base[:, :2]) and torch.equal(mixed[:, 5:], base[:, 5:])
    half = engine.ws(values(seed=0, mix_seed=6, mix_start=2, mix_end=5, mix_amount=0.5), at(0.0))
    assert torch.allclose(half[:, 3], (base[:, 3] + other[:, 3]) / 2, atol=1e-6)
    assert torch.equal(half[:, 7], base[:, 7])


def test_files_as_keyframes_and_mix_source(sg2, tmp_path):
    engine, bank = LatentEngine(sg2), SeedBank(sg2)
    photo = torch.randn(1, sg2.num_ws, sg2.w_dim)
    path = save_latent(tmp_path / "photo.npz", photo)
    engine.set_keyframes([path, 12])
    v = values(mode="lerp", period=1.0)
    assert torch.equal(engine.ws(v, at(0.0)), photo)
    assert torch.allclose(engine.ws(v, at(1.0)), bank.ws(12), atol=1e-6)
    assert torch.isfinite(engine.ws({**v, **values(mode="noise")}, at(0.3))).all()   # W walk around a file
    engine.set_keyframes([])
    engine.set_mix_source(path)
    mixed = engine.ws(values(seed=0, mix_start=0, mix_end=3, mix_amount=1.0), at(0.0))
    assert torch.equal(mixed[:, :3], photo[:, :3])
    save_latent(tmp_path / "big.npz", torch.zeros(1, 18, 512))
    with pytest.raises(LatentFileError, match="num_ws=18, w_dim=512"):
        engine.set_keyframes([tmp_path / "big.npz"])


def test_noise_modes_and_triggers(sg2):
    engine = LatentEngine(sg2)
    kw = engine.synthesis_kwargs(values(noise_mode="random", noise_strength=0.5), at(0.0))
    assert kw["noise_mode"] == "random" and kw["transform"] is None
    assert kw["noise_gain"].shape == () and float(kw["noise_gain"]) == 0.5      # a device tensor
    v = values(noise_mode="animated", noise_strength=1.0, period=2.0)
    gains = [float(engine.synthesis_kwargs(v, at(t))["noise_gain"]) for t in (0.0, 1.0, 2.0)]
    assert gains == pytest.approx([0.0, 2.0, 0.0])
    registry = ParamRegistry()
    registry.add_all(params(sg2))
    registry.set("latent.seed", 41)
    actions = engine.trigger_actions(registry)
    actions["latent.next_seed"]()
    actions["latent.next_seed"]()
    actions["latent.prev_seed"]()
    assert registry.get("latent.seed") == 42


def test_input_transform_matches_the_official_buffer(oracle):
    ref = np.load(oracle / "sg3t_64_A_ref.npz")
    tx, ty = (float(v) for v in ref["xform_translate"])
    matrix = input_transform(tx, ty, float(ref["xform_angle_deg"]))
    assert np.abs(matrix - ref["xform_buffer"]).max() < 1e-6
    assert np.allclose(input_transform(0.0, 0.0, 0.0), np.eye(3))
    assert not math.isclose(matrix[0, 1], 0.0)


@pytest.mark.gpu
def test_no_host_sync_per_frame(sg2, oracle, device):
    """The real-device twin of tests/latents/test_frame_sync.py: latents + blend under sync debug mode."""
    if device != "cuda":
        pytest.skip("sync debug mode is CUDA only")
    import copy

    from engine.blend.generator import BlendedGenerator
    from engine.blend.masks import compose
    from tests.conftest import oracle_generator

    A, B = copy.deepcopy(sg2).to(device), oracle_generator(oracle, "sg2_64_B").to(device)
    blended = BlendedGenerator([A, B])
    engine = LatentEngine(blended, device, models=[A, B])
    engine.set_keyframes([1, 2, 3])
    clock = FakeClock(fps=60)
    n = len(blended.layers)

    def frame(v):
        ft = clock.tick()
        blended.apply(compose(v, n))
        engine.synthesis_kwargs(v, ft)
        return engine.ws(v, ft)

    for mode in WALK_MODES:                            # warm: first uses allocate and upload
        for space in ("z", "w"):
            v = values(seed=1, mode=mode, space=space, period=0.2, mix_amount=0.5, psi=0.7)
            for i in range(10):
                frame({**v, "blend.channel.fraction": 0.5, "latent.dir.0": 1.0, "blend.layer.2": 0.1 * i})
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for mode in WALK_MODES:
            for space in ("z", "w"):
                for i in range(5):
                    v = values(seed=1 + i, mode=mode, space=space, period=0.2, mix_amount=0.1 * i, psi=0.7)
                    frame({**v, "blend.layer.2": 0.2 * i, "blend.mapping": 0.1 * i, "latent.dir.1": 0.3 * i,
                           "latent.dir.source": float(i % 2), "blend.channel.fraction": 0.4 + 0.1 * i})
    finally:
        torch.cuda.set_sync_debug_mode("default")
    engine.close()


def test_stylegan3_transform_parameters_render_the_official_image(sg3, oracle):
    ref = np.load(oracle / "sg3t_64_A_ref.npz")
    registry = ParamRegistry()
    registry.add_all(params(sg3))
    assert "latent.xform.angle" in registry and "latent.noise.mode" not in registry
    tx, ty = (float(v) for v in ref["xform_translate"])
    v = values(seed=1, xform_x=tx, xform_y=ty, xform_angle=float(ref["xform_angle_deg"]))
    engine = LatentEngine(sg3)
    ws = engine.ws(v, at(0.0))
    kwargs = engine.synthesis_kwargs(v, at(0.0))
    assert engine.synthesis_kwargs(v, at(1.0))["transform"] is kwargs["transform"]   # one device tensor
    with torch.no_grad():
        img = sg3.synthesis(ws, **kwargs)
    expected = ref["img_s1_psi1.0_xform"]
    assert np.abs(img.numpy() - expected).max() <= 2e-5 * max(1.0, np.abs(expected).max())
    still = engine.synthesis_kwargs(values(seed=1), at(0.0))["transform"]
    assert torch.equal(still, sg3.synthesis.input.transform)          # no transform: the model's own
