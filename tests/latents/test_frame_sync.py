"""The latents + blend half of a frame on an accelerator: no host sync, no blocking copy, no graph
break, no recompile when the values change (issue #13). Runs on the CPU: a fake CUDA / MPS device
(tests/latents/fake_device.py) for the waits, ``torch._dynamo`` for the graphs."""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import pytest
import torch
from torch._dynamo.testing import CompileCounter

from engine.blend.generator import BlendedGenerator
from engine.blend.masks import compose
from engine.core.clock import FakeClock
from engine.latents import WALK_MODES, LatentEngine, directions_for, seed_to_z
from engine.latents.directions import DirectionConfig
from tests.blend.conftest import perturbed
from tests.conftest import oracle_generator
from tests.latents.fake_device import fake_accelerator

SMALL = DirectionConfig(samples=64)
# BlendedGenerator deep-copies model A; on fake tensors torch warns about reading their data pointer
pytestmark = pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")


def frame_values(mode: str, space: str, i: int, source: str = "a") -> dict[str, object]:
    """Values that change every frame: seeds, psi, cutoff, mixing, blend, channels, directions."""
    return {"latent.walk.mode": mode, "latent.walk.space": space, "latent.walk.period": 0.2,
            "latent.seed": float(i // 3), "latent.psi": 0.6 + 0.03 * i, "latent.cutoff": float(i % 4),
            "latent.mix.amount": 0.1 * (i % 5), "latent.mix.seed": float(40 + i // 4), "latent.mix.start": 1.0,
            "latent.dir.0": 0.3 * i, "latent.dir.5": -0.2 * i, "latent.dir.start": float(i % 3),
            "latent.dir.source": source, "latent.noise.mode": "animated", "latent.xform.angle": 3.0 * i,
            "latent.xform.x": 0.01 * i, "blend.layer.2": 0.1 * i, "blend.curve.amount": 0.5,
            "blend.mapping": 0.05 * i, "blend.channel.fraction": 0.25 + 0.25 * (i // 2)}


def copies(*models):
    """Copies to move onto the fake device (``Module.to`` moves in place: the fixtures stay real)."""
    return [copy.deepcopy(G) for G in models]


def numeric(values: dict[str, object]) -> dict[str, float]:
    """Choices as indices, the way a registry snapshot carries them."""
    names = {"latent.walk.mode": WALK_MODES, "latent.walk.space": ("z", "w"),
             "latent.noise.mode": ("const", "random", "animated", "none"), "latent.dir.source": ("a", "b", "blend")}
    return {k: float(names[k].index(v)) if k in names else float(v) for k, v in values.items()}


@pytest.fixture(scope="module")
def pairs(oracle):
    sg2 = (oracle_generator(oracle, "sg2_64_A"), oracle_generator(oracle, "sg2_64_B"))
    sg3_a = oracle_generator(oracle, "sg3t_64_A")
    return {"stylegan2": sg2, "stylegan3": (sg3_a, perturbed(sg3_a, 5))}


def test_the_fake_device_sees_every_kind_of_wait():
    with fake_accelerator("cuda") as log:
        x = torch.zeros(4, device="cuda")
        pinned = torch.empty(4, pin_memory=True)
        with log.counting():
            x.copy_(pinned, non_blocking=True)                            # the one right way: no wait
            torch.from_numpy(np.ones(4, np.float32)).to("cuda")            # pageable and blocking
            x.copy_(torch.ones(4), non_blocking=True)                      # not pinned: blocks on CUDA
            for read in (lambda: float(x.sum()), lambda: bool(x.sum() > 0), lambda: x.cpu(), lambda: x.sum().item()):
                with contextlib.suppress(Exception):         # fake tensors have no values to read
                    read()
            torch.equal(x, x)
    kinds = [what for what, _ in log.events]
    assert kinds == ["blocking copy cpu -> cuda", "blocking copy cpu -> cuda", "float()", "bool()", "cpu()",
                     "item()", "torch.equal"]


@pytest.mark.parametrize("family, kind", [
    ("stylegan2", "cuda"),
    pytest.param("stylegan2", "mps", marks=pytest.mark.slow),     # fake tensors are slow: seconds each
    pytest.param("stylegan3", "cuda", marks=pytest.mark.slow),
    pytest.param("stylegan3", "mps", marks=pytest.mark.slow),
])
def test_latents_and_blend_make_no_host_sync(pairs, kind, family):
    A, B = pairs[family]
    sets = {"a": directions_for(A, SMALL), "b": directions_for(B, SMALL)}
    A, B = copies(A, B)
    with fake_accelerator(kind) as log:
        blended = BlendedGenerator([A.to(kind), B.to(kind)])
        engine = LatentEngine(blended, kind, directions=sets)
        engine.set_keyframes([1, 2, 3])
        n = len(blended.layers)
        clock = FakeClock(fps=30)

        def frame(i: int, mode: str, space: str, source: str = "a") -> torch.Tensor:
            values = numeric(frame_values(mode, space, i, source))
            ft = clock.tick()
            blended.apply(compose(values, n, num_models=2))
            ws = engine.ws(values, ft)
            kwargs = engine.synthesis_kwargs(values, ft)
            assert kwargs["noise_gain"].device.type == kind
            assert (kwargs["transform"] is None) == (family == "stylegan2")
            return ws

        for mode in WALK_MODES:                                           # warm-up: first uses allocate
            for space in ("z", "w"):
                frame(0, mode, space)
        engine.set_keyframes([])                                          # seeds walk: new seeds keep coming
        with log.counting():
            for i in range(1, 3):
                for mode in WALK_MODES:
                    for space in ("z", "w"):
                        ws = frame(i, mode, space, source=("a", "b")[i % 2])
        assert ws.device.type == kind and ws.shape == (1, blended.num_ws, blended.w_dim)
    assert log.events == [], log.report()


def test_a_busy_device_makes_the_ring_wait_instead_of_overwriting(pairs):
    A, B = copies(*pairs["stylegan2"])
    with fake_accelerator("cuda") as log:
        blended = BlendedGenerator([A.to("cuda"), B.to("cuda")])
        n = len(blended.layers)
        log.device_busy = True                                             # no upload has finished
        with log.counting():
            for i in range(5):
                blended.apply(compose({"blend.layer.0": 0.1 * (i + 1)}, n))
    # a ring of 3 staging buffers, one used at construction: writes 3, 4 and 5 find theirs still in flight
    assert [what for what, _ in log.events] == ["event wait"] * 3
    assert all(where.startswith("engine/core/uploads.py") for _, where in log.events)


def test_a_blend_built_under_inference_mode_can_be_changed_outside_it(pairs):
    A, B = pairs["stylegan2"]
    with torch.inference_mode():
        blended = BlendedGenerator([A, B])
    blended.set_blend(layers={0: 1.0})                                   # crashed on CUDA before
    assert torch.equal(blended.live.synthesis.b4.conv1.weight, B.synthesis.b4.conv1.weight)
    A, B = copies(A, B)
    with fake_accelerator("cuda"):
        with torch.inference_mode():
            fake = BlendedGenerator([A.to("cuda"), B.to("cuda")])
        fake.set_blend(layers={0: 1.0})


def test_blend_writes_do_not_remap_the_seeds(pairs):
    A, B = pairs["stylegan2"]
    blended = BlendedGenerator([A, B])
    engine = LatentEngine(blended, directions=None)
    engine.set_keyframes([1, 2])
    n = len(blended.layers)
    clock = FakeClock(fps=5)
    v = numeric({"latent.walk.mode": "lerp", "latent.walk.space": "w", "latent.walk.period": 0.5})
    for i in range(5):
        blended.apply(compose({**v, "blend.layer.3": 0.2 * i, "blend.curve.amount": 0.1 * i}, n))
        engine.ws(v, clock.tick())
    assert engine.table.mapping_calls == 2                               # one per seed, not 10
    blended.apply(compose({**v, "blend.mapping": 1.0}, n))
    engine.ws(v, clock.tick())
    assert engine.table.mapping_calls == 4                               # the mapping changed: both again
    rows = engine.table.rows([1, 2], 0)
    assert engine.table.mapping_calls == 4
    with torch.no_grad():
        for seed, row in zip((1, 2), rows):
            expected = blended.mapping(torch.from_numpy(seed_to_z(seed, blended.z_dim)).float())
            assert torch.equal(engine.table.w.narrow(0, row, 1), expected)     # B's mapping, bit for bit


def test_switching_walk_space_rebuilds_nothing(pairs):
    A, _ = pairs["stylegan2"]
    engine = LatentEngine(A, directions=None)
    clock = FakeClock(fps=30)
    for mode in ("noise", "random"):
        for _ in range(3):
            for space in ("z", "w"):
                engine.ws(numeric({"latent.walk.mode": mode, "latent.walk.space": space}), clock.tick())
    loops, walks = dict(engine._noise), dict(engine._random)
    for _ in range(4):
        for space in ("z", "w"):
            engine.ws(numeric({"latent.walk.mode": "noise", "latent.walk.space": space}), clock.tick())
            engine.ws(numeric({"latent.walk.mode": "random", "latent.walk.space": space}), clock.tick())
    assert engine._noise == loops and engine._random == walks            # the same walkers, kept


@pytest.mark.parametrize("family, plans", [
    ("stylegan2", [(mode, space) for mode in WALK_MODES for space in ("z", "w")]),
    ("stylegan3", [("slerp", "z"), ("noise", "w")]),              # the same code, other shapes
])
def test_the_device_half_is_one_graph_for_every_walk(pairs, family, plans):
    A, _ = pairs[family]
    engine = LatentEngine(A, directions={"a": directions_for(A, SMALL)})
    engine.set_keyframes([4, 5, 6])
    clock = FakeClock(fps=30)
    for mode, space in plans:
        plan = engine.prepare(numeric(frame_values(mode, space, 3)), clock.tick())
        torch._dynamo.reset()
        explained = torch._dynamo.explain(engine.compute)(plan)
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), \
            f"{mode}/{space}: {explained.break_reasons}"


@pytest.mark.parametrize("mode", ["slerp", "noise", "random", "circle"])
def test_changing_values_never_recompile_the_device_half(pairs, mode):
    A, _ = pairs["stylegan2"]
    engine = LatentEngine(A, directions={"a": directions_for(A, SMALL)})
    clock = FakeClock(fps=30)
    counter = CompileCounter()
    torch._dynamo.reset()
    compiled = torch.compile(engine.compute, backend=counter)
    for i in range(12):
        plan = engine.prepare(numeric(frame_values(mode, "z", i)), clock.tick())
        assert torch.equal(compiled(plan), engine.compute(plan))
    assert counter.frame_count == 1


def test_the_blend_write_is_one_graph_that_new_rows_never_recompile(pairs):
    A, B = pairs["stylegan2"]
    blended = BlendedGenerator([A, B])
    n = len(blended.layers)
    blended.apply(compose({"blend.curve.amount": 0.5, "blend.channel.fraction": 0.5}, n))
    stacks = blended._stacks
    runs = stacks.static_runs()
    torch._dynamo.reset()
    explained = torch._dynamo.explain(stacks.write_runs)(runs)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons
    counter = CompileCounter()
    torch._dynamo.reset()
    compiled = torch.compile(stacks.write_runs, backend=counter)
    rng = np.random.default_rng(0)
    for _ in range(4):
        t = rng.uniform(-0.5, 1.5, len(stacks.keys))
        stacks._rows.write(np.stack([1.0 - t, t], axis=1))
        compiled(runs)
        after_compiled = [f.clone() for f in stacks.flats]
        stacks.write_runs(runs)
        assert all(torch.equal(a, b) for a, b in zip(after_compiled, stacks.flats))
    assert counter.frame_count == 1
