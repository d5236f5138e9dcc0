import math

import pytest
import torch

from engine.latents.walks import EASINGS, NoiseLoop, RandomWalk, ease, loop_phase, segment, slerp


@pytest.mark.parametrize("easing", EASINGS)
def test_easings_fix_the_ends_and_rise(easing):
    assert ease(0.0, easing) == 0.0 and ease(1.0, easing) == pytest.approx(1.0, abs=1e-12)
    samples = [ease(i / 20, easing) for i in range(21)]
    assert all(b >= a for a, b in zip(samples, samples[1:]))


def test_segment_loops_over_keyframes():
    assert segment(0.0, 3) == (0, 0.0)
    k, f = segment(4.25, 3)
    assert k == 1 and f == pytest.approx(0.25)
    assert segment(7.5, None)[0] == 7
    assert loop_phase(3.0) == 0.0 and loop_phase(2.5) == 0.5


def test_slerp_keeps_the_norm_and_hits_the_ends():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 512, generator=gen), torch.randn(1, 512, generator=gen)
    b = b * (a.norm() / b.norm())                    # equal lengths
    for f in (0.0, 0.1, 0.37, 0.5, 0.9, 1.0):
        assert slerp(a, b, f).norm().item() == pytest.approx(a.norm().item(), rel=1e-5)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    # lerp would shrink the middle: the point of slerp
    assert torch.lerp(a, b, 0.5).norm() < 0.8 * a.norm()
    # unequal lengths: the length moves linearly; parallel ends do not produce NaN
    c = 2.0 * b
    assert slerp(a, c, 0.5).norm().item() == pytest.approx(1.5 * a.norm().item(), rel=1e-5)
    assert torch.isfinite(slerp(a, a, 0.3)).all()


def test_noise_loop_closes_and_is_smooth():
    loop = NoiseLoop(64, seed=3)
    assert torch.equal(loop.offset(0.0), torch.zeros(64))
    assert loop.offset(1.0 - 1e-7).abs().max() < 1e-4          # continuous across the wrap
    mid = loop.offset(0.5)
    assert 0.5 < mid.std().item() < 3.0                         # a real excursion of about unit scale
    steps = [loop.offset(i / 200) for i in range(200)]
    jumps = max((b - a).norm().item() for a, b in zip(steps, steps[1:]))
    assert jumps < 0.2 * mid.norm().item()


def test_random_walk_is_reproducible_from_zero():
    walk = RandomWalk(32)
    path = [walk.offset(t / 10, 0.9).clone() for t in range(30)]
    again = RandomWalk(32).offset(2.9, 0.9)
    assert torch.equal(path[-1], again)
    assert torch.equal(walk.offset(0.5, 0.9), path[5])          # going back replays from 0
    assert not torch.equal(path[10], path[20])
    assert math.isfinite(path[-1].norm().item())


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_random_walk_has_unit_spread(momentum):
    walk = RandomWalk(256)
    samples = torch.stack([walk.offset(float(t), momentum) for t in range(10, 60)])   # [50, 256]
    assert 0.6 < samples.std().item() < 1.5           # radius 1 means a step of about one z
