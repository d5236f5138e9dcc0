"""The whole frame on an accelerator (issue #13, item 1): blend write + latents + network bending +
synthesis + RGBA conversion make no host sync and no blocking copy, and the device half traces to one
graph that changing values never recompile. Runs on the CPU: a fake CUDA / MPS device for the waits
(tests/show/fake_frame.py), ``torch._dynamo`` for the graphs."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.testing import CompileCounter

from engine.core.clock import FakeClock
from engine.latents import WALK_MODES, directions_for
from engine.latents.directions import DirectionConfig
from engine.show.build import build_renderer
from engine.show.catalog import build_registry
from tests.blend.conftest import perturbed
from tests.conftest import oracle_generator
from tests.show.fake_frame import fake_frame_device, fake_renderer

pytestmark = pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")
WALKS = ("slerp", "noise", "random", "circle")


def frame_values(i: int, walk: str = "slerp") -> dict[str, float]:
    """Values that change every frame: blend (a layer, the curve, the mapping, channels), seeds, psi,
    mixing, directions, the StyleGAN3 transform, noise strength and the bending amounts (on from frame 0)."""
    return {"latent.walk.mode": float(WALK_MODES.index(walk)), "latent.walk.period": 0.3,
            "latent.seed": float(i // 2), "latent.psi": 0.6 + 0.03 * i, "latent.cutoff": float(i % 3),
            "latent.mix.amount": 0.1 * (i % 4), "latent.mix.seed": float(30 + i), "latent.mix.start": 1.0,
            "latent.dir.0": 0.2 * i, "latent.dir.3": -0.1 * i, "latent.noise.mode": 2.0,
            "latent.noise.strength": 0.5 + 0.1 * i, "latent.xform.angle": 2.0 * i, "latent.xform.x": 0.01 * i,
            "blend.layer.1": 0.1 * i, "blend.curve.amount": 0.5, "blend.curve.center": 0.2 + 0.05 * i,
            "blend.mapping": 0.05 * i, "blend.channel.fraction": 0.5 + 0.1 * (i % 3),
            "bend.1.rotate": 10.0 + i, "bend.2.translate_x": 0.05 * (i + 1), "bend.2.invert": 0.2 + 0.05 * i,
            "bend.3.multiply": 0.1 * (i + 1), "bend.3.ablate": 0.1 + 0.02 * i}


@pytest.fixture(scope="module")
def pairs(oracle):
    sg2 = (oracle_generator(oracle, "sg2_64_A"), oracle_generator(oracle, "sg2_64_B"))
    sg3_a = oracle_generator(oracle, "sg3t_64_A")
    return {"stylegan2": sg2, "stylegan3": (sg3_a, perturbed(sg3_a, 5))}


@pytest.fixture(scope="module")
def directions(pairs):
    small = DirectionConfig(samples=64)
    return {family: {"a": directions_for(A, small), "b": directions_for(B, small)}
            for family, (A, B) in pairs.items()}


@pytest.mark.parametrize("family, kind, size", [
    ("stylegan2", "cuda", None),
    ("stylegan2", "mps", (48, 40)),                                    # resized into another frame size
    pytest.param("stylegan3", "cuda", None, marks=pytest.mark.slow),  # fake tensors are slow: seconds each
    pytest.param("stylegan3", "mps", None, marks=pytest.mark.slow),
])
def test_a_whole_frame_makes_no_host_sync_and_no_blocking_copy(pairs, directions, family, kind, size):
    with fake_frame_device(kind) as log:
        renderer = fake_renderer(pairs[family], kind, directions[family], size=size)
        clock = FakeClock(fps=30)
        for walk in WALKS:                                            # warm-up: first uses allocate
            renderer.render(frame_values(0, walk), clock.tick())
        with log.counting():
            for i in range(1, 4):
                for walk in WALKS:
                    pixels = renderer.render(frame_values(i, walk), clock.tick())
        assert pixels.device.type == kind and pixels.dtype == torch.uint8
        assert tuple(pixels.shape[:2]) == ((size[1], size[0]) if size else (64, 64))
        assert renderer.bender.signature                               # bending really ran
    assert log.events == [], log.report()


def _renderer(pairs, family: str, impl: str, **kwargs):
    renderer = build_renderer(list(pairs[family]), torch.device("cpu"), impl=impl, **kwargs)
    registry = build_registry(renderer.blended)
    return renderer, registry


@pytest.mark.parametrize("family, impl, size", [
    ("stylegan2", "ref", None),
    ("stylegan2", "fast", (48, 40)),                                   # resized into another frame size
    ("stylegan3", "fast", None),
    pytest.param("stylegan3", "ref", None, marks=pytest.mark.slow),
])
def test_the_device_half_of_a_frame_is_one_graph(pairs, family, impl, size):
    renderer, _ = _renderer(pairs, family, impl, size=size)
    clock = FakeClock(fps=30)
    with torch.inference_mode():
        renderer.render(frame_values(0), clock.tick())                 # eager first: filter facts read
        key, args = renderer.prepare(frame_values(1), clock.tick())
        torch._dynamo.reset()
        explained = torch._dynamo.explain(renderer.draw)(*args)
    assert key.bending and key.impl == impl
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


@pytest.mark.slow
def test_the_device_half_is_one_graph_with_triton_kernels(monkeypatch):
    pytest.importorskip("triton")
    from tests.helpers import tiny_pair

    monkeypatch.setenv("TRITON_INTERPRET", "1")                       # Triton's interpreter on CPU tensors
    renderer = build_renderer(tiny_pair(), torch.device("cpu"), impl="triton")
    clock = FakeClock(fps=30)
    values = {"latent.walk.mode": 2.0, "bend.2.rotate": 15.0, "blend.layer.1": 0.4}
    with torch.inference_mode():
        renderer.render(values, clock.tick())
        _, args = renderer.prepare(values, clock.tick())
        torch._dynamo.reset()
        explained = torch._dynamo.explain(renderer.draw)(*args)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


def _counted(pairs, family: str):
    from engine.show.frame import FrameOptions

    counter = CompileCounter()
    torch._dynamo.reset()
    renderer, _ = _renderer(pairs, family, "fast")
    renderer.programs.__init__(renderer.draw, renderer.device, FrameOptions(compile="on", backend=counter))
    return renderer, counter


def _eager_pixels(renderer, values, ft) -> torch.Tensor:
    """The same frame rendered by the plain Python device half."""
    ready, renderer.programs.ready = renderer.programs.ready, set()
    try:
        return renderer.render(values, ft).clone()
    finally:
        renderer.programs.ready = ready


@pytest.mark.parametrize("family", ["stylegan2", pytest.param("stylegan3", marks=pytest.mark.slow)])
def test_changing_values_never_recompile_the_frame(pairs, family):
    renderer, counter = _counted(pairs, family)
    clock = FakeClock(fps=30)
    renderer.prepare_frames(frame_values(0), clock.tick())
    assert counter.frame_count == 1 and renderer.programs.ready
    previous = None
    for i in range(1, 9):
        ft = clock.tick()
        pixels = renderer.render(frame_values(i), ft).clone()
        assert renderer.programs.last_mode == "compiled"
        assert torch.equal(pixels, _eager_pixels(renderer, frame_values(i), ft))
        assert previous is None or not torch.equal(pixels, previous)   # the values really changed the frame
        previous = pixels
    assert counter.frame_count == 1                                    # one compile, 8 frames of new values


def test_each_walk_and_bending_set_is_its_own_compiled_frame(pairs):
    renderer, counter = _counted(pairs, "stylegan2")
    clock = FakeClock(fps=30)
    both = {**frame_values(0), "bend.4.invert": 0.7}                   # layers 1-4 bent
    invert = {k: v for k, v in both.items() if not k.startswith("bend.")} | {"bend.4.invert": 0.7}
    keys = set()
    for values in (both, invert, {**invert, "latent.walk.mode": float(WALK_MODES.index("noise"))}):
        renderer.prepare_frames(values, clock.tick())
        keys.add(renderer.prepare(values, clock.tick())[0])
    assert len(keys) == 3 and renderer.programs.ready == keys and counter.frame_count == 3
    # back and forth: each frame runs the program of its own hooks (layer 4's program alone passes every
    # guard of the all-layers frame but the hooks' own: dynamo skips those unless told otherwise)
    for i in range(6):
        values = ({**both, "bend.1.rotate": 5.0 * i + 5}, {**invert, "bend.4.invert": 0.1 * i + 0.1})[i % 2]
        ft = clock.tick()
        pixels = renderer.render(values, ft).clone()
        assert renderer.programs.last_mode == "compiled"
        assert torch.equal(pixels, _eager_pixels(renderer, values, ft))
    assert counter.frame_count == 3


def test_a_frame_not_compiled_at_warm_up_runs_eagerly_and_never_compiles_live(pairs, caplog):
    renderer, counter = _counted(pairs, "stylegan2")
    clock = FakeClock(fps=30)
    renderer.prepare_frames(frame_values(0, "slerp"), clock.tick())
    values = frame_values(1, "circle")                                 # another walk: another program
    ft = clock.tick()
    with caplog.at_level("INFO", logger="netblend"):
        pixels = renderer.render(values, ft).clone()
        renderer.render(values, ft)
    assert renderer.programs.last_mode == "eager" and counter.frame_count == 1
    assert sum("was not compiled at warm-up" in r.getMessage() for r in caplog.records) == 1
    assert torch.equal(pixels, _eager_pixels(renderer, values, ft))
