"""Latent directions: SeFa and GANSpace against independent numpy computations, the cache, and the live
``latent.dir.*`` parameters."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from engine.blend.generator import BlendedGenerator
from engine.core.clock import FrameTime
from engine.core.params import ParamRegistry
from engine.errors import LatentFileError
from engine.latents import LatentEngine, load_directions, params, save_directions
from engine.latents import directions as directions_module
from engine.latents.directions import DirectionConfig, affine_keys, cached_path, directions_for, sample_w
from engine.latents.steering import LIVE_COUNT
from tests.latents.tiny import tiny_generator

NOW = FrameTime(0, 0.0, 0.0, 0.0, 120.0)


def stacked_affines(G, keys) -> np.ndarray:
    sd = G.state_dict()
    return np.concatenate([sd[k].double().numpy() for k in keys])          # [rows, w_dim]


@pytest.fixture(scope="module")
def structured():
    """The tiny model with its style affines given a known, decaying spectrum in W: every affine is
    multiplied by ``Q diag(g) Q^T`` (``Q`` a random rotation, ``g`` from 8 down to 1/8), so the style
    change per unit of W falls steeply from ``Q[:, 0]`` to ``Q[:, -1]``, as in trained models."""
    G = copy.deepcopy(tiny_generator())
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.standard_normal((G.w_dim, G.w_dim)))
    gains = np.geomspace(8.0, 0.125, G.w_dim)
    shaping = torch.from_numpy((q * gains) @ q.T).float()                # [w_dim, w_dim]
    with torch.no_grad():
        for key in affine_keys(G, torgb=True):
            module = G.get_submodule(key.rsplit(".", 1)[0])
            module.weight.copy_(module.weight @ shaping)
    return G, q


def test_sefa_directions_are_the_right_singular_vectors(oracle):
    from tests.conftest import oracle_generator

    G = oracle_generator(oracle, "sg2_64_A")
    found = directions_for(G, DirectionConfig(count=12, samples=200))
    keys = affine_keys(G)
    assert keys and not any("torgb" in k for k in keys)                   # ToRGB left out by default
    _, singular, vt = np.linalg.svd(stacked_affines(G, keys), full_matrices=False)   # float64, numpy
    d = found.directions.astype(np.float64)
    assert d.shape == (12, G.w_dim) and found.values.shape == (12,)
    assert np.allclose(d @ d.T, np.eye(12), atol=1e-5)                    # orthonormal rows
    assert np.allclose(np.abs(np.sum(d * vt[:12], axis=1)), 1.0, atol=1e-5)   # the same vectors up to sign
    assert np.allclose(found.values, singular[:12], rtol=1e-5)
    assert np.all(np.diff(found.values) <= 0)                              # sorted by singular value


def test_sefa_normalize_and_layer_choice(oracle):
    from tests.conftest import oracle_generator

    G = oracle_generator(oracle, "sg2_64_A")
    config = DirectionConfig(layers=(0, 1, 2), normalize=True, count=6, samples=100)
    found = directions_for(G, config)
    stack = stacked_affines(G, affine_keys(G, (0, 1, 2)))
    stack /= np.linalg.norm(stack, axis=1, keepdims=True)
    _, singular, vt = np.linalg.svd(stack, full_matrices=False)
    assert np.allclose(np.abs(np.sum(found.directions * vt[:6], axis=1)), 1.0, atol=1e-5)
    assert np.allclose(found.values, singular[:6], rtol=1e-5) and found.layers == (0, 1, 2)
    with pytest.raises(LatentFileError, match="layer 99 does not exist"):
        directions_for(G, DirectionConfig(layers=(99,)))


def test_ganspace_is_the_pca_of_seeded_w_samples(oracle):
    from tests.conftest import oracle_generator

    G = oracle_generator(oracle, "sg2_64_A")
    config = DirectionConfig(method="ganspace", count=5, samples=300, seed=3)
    found = directions_for(G, config)
    w = sample_w(G, 300, 3)
    centred = w - w.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = eigenvectors[:, ::-1][:, :5].T
    assert np.allclose(np.abs(np.sum(found.directions * top, axis=1)), 1.0, atol=1e-4)
    assert np.allclose(found.values, np.sqrt(eigenvalues[::-1][:5]), rtol=1e-4)
    assert np.allclose(found.spread, found.values, rtol=1e-4)            # PCA: the spread is the std
    other = directions_for(G, DirectionConfig(method="ganspace", count=5, samples=300, seed=4))
    assert not np.allclose(np.abs(other.directions[0]), np.abs(found.directions[0]), atol=1e-3)


def test_directions_are_computed_once_then_read_from_the_cache(monkeypatch):
    G = copy.deepcopy(tiny_generator())
    config = DirectionConfig(count=4, samples=50, seed=11)
    calls = []
    compute = directions_module.compute_directions
    monkeypatch.setattr(directions_module, "compute_directions", lambda *a: calls.append(1) or compute(*a))
    first = directions_for(G, config)
    assert calls == [1] and cached_path(G, config).is_file()
    again = directions_for(G, config)
    assert calls == [1] and np.array_equal(again.directions, first.directions)
    with torch.no_grad():
        G.synthesis.b8.conv0.affine.weight.mul_(1.5)                       # another model: another entry
    directions_for(G, config)
    assert calls == [1, 1]


def test_direction_files_round_trip_and_bad_files_say_why(tmp_path):
    found = directions_for(tiny_generator(), DirectionConfig(count=3, samples=40))
    path = save_directions(tmp_path / "dirs.npz", found)
    back = load_directions(path, w_dim=found.directions.shape[1])
    assert np.array_equal(back.directions, found.directions) and np.array_equal(back.spread, found.spread)
    with pytest.raises(LatentFileError, match="w_dim=32; this model needs w_dim=512"):
        load_directions(path, w_dim=512)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LatentFileError, match="cannot read junk.npz"):
        load_directions(tmp_path / "junk.npz")
    with pytest.raises(LatentFileError, match="does not exist"):
        load_directions(tmp_path / "missing.npz")


def render(engine, G, values):
    with torch.no_grad():
        return G.synthesis(engine.ws(values, NOW), **engine.synthesis_kwargs(values, NOW))


def test_direction_0_moves_the_image_more_than_direction_7(structured):
    G, q = structured
    engine = LatentEngine(G, directions=DirectionConfig(samples=500))
    found = engine.directions.sets["a"]
    first = found.directions[0].astype(np.float64)
    assert np.linalg.norm(q[:, :4].T @ first) > 0.95                      # SeFa finds the built-in spectrum
    assert found.values[0] > 1.5 * found.values[7]
    change = []
    for k in (0, 7):
        moved = [(render(engine, G, {"latent.seed": s, "latent.psi": 0.7, f"latent.dir.{k}": 0.5})
                  - render(engine, G, {"latent.seed": s, "latent.psi": 0.7})).abs().mean().item() for s in range(4)]
        change.append(np.mean(moved))
    assert change[0] > 1.5 * change[1], change


def test_amounts_move_the_chosen_rows_by_spreads(structured):
    G, _ = structured
    engine = LatentEngine(G, directions=DirectionConfig(samples=300))
    found = engine.directions.sets["a"]
    base = engine.ws({"latent.seed": 3.0}, NOW).clone()
    assert torch.equal(engine.ws({"latent.seed": 3.0, "latent.dir.2": 0.0}, NOW), base)   # 0: bit-identical
    moved = engine.ws({"latent.seed": 3.0, "latent.dir.2": 1.5, "latent.dir.start": 1.0,
                       "latent.dir.end": 4.0}, NOW)
    delta = (moved - base)[0].double().numpy()                           # [num_ws, w_dim]
    expected = 1.5 * found.spread[2] * found.directions[2]
    assert np.allclose(delta[1:4], expected, atol=1e-5)
    assert np.abs(delta[0]).max() == 0.0 and np.abs(delta[4:]).max() == 0.0


def test_source_b_and_the_current_blend(structured):
    A, _ = structured
    B = copy.deepcopy(A)
    with torch.no_grad():
        for key in affine_keys(B):
            B.get_submodule(key.rsplit(".", 1)[0]).weight.mul_(torch.linspace(0.2, 3.0, B.w_dim))
    blended = BlendedGenerator([A, B])
    config = DirectionConfig(count=8, samples=200)
    engine = LatentEngine(blended, models=[A, B], directions=config)
    sets = engine.directions.sets
    assert not np.allclose(np.abs(sets["a"].directions[0]), np.abs(sets["b"].directions[0]), atol=1e-2)
    v = {"latent.seed": 1.0, "latent.dir.0": 1.0}
    at_a = engine.ws({**v, "latent.dir.source": 0.0}, NOW).clone()
    at_b = engine.ws({**v, "latent.dir.source": 1.0}, NOW).clone()
    assert not torch.allclose(at_a, at_b, atol=1e-4)
    blended.set_blend(layers={i: 0.5 for i in range(len(blended.layers))})
    engine.ws({**v, "latent.dir.source": 2.0}, NOW)
    engine.directions.wait()
    half = BlendedGenerator([A, B])
    half.set_blend(layers={i: 0.5 for i in range(len(half.layers))})
    expected = directions_for(half, config, cache=False)
    got = engine.directions.sets["blend"]
    assert np.allclose(np.abs(np.sum(got.directions * expected.directions, axis=1)), 1.0, atol=1e-4)
    at_blend = engine.ws({**v, "latent.dir.source": 2.0}, NOW)
    assert torch.allclose(at_blend - engine.ws({"latent.seed": 1.0, "latent.dir.source": 2.0}, NOW),
                          torch.from_numpy(expected.scaled(1)[0]).float().expand_as(at_blend), atol=1e-4)
    blended.set_blend(layers={i: 0.9 for i in range(len(blended.layers))})
    engine.ws({**v, "latent.dir.source": 2.0}, FrameTime(1, 0.1, 0.1, 0.2, 120.0))
    assert engine.directions.captures == 1                               # at most every 0.5 s of show time
    engine.ws({**v, "latent.dir.source": 2.0}, FrameTime(9, 0.7, 0.1, 1.4, 120.0))
    assert engine.directions.captures == 2
    engine.close()


def test_direction_parameters_are_declared(oracle):
    from tests.conftest import oracle_generator

    G = oracle_generator(oracle, "sg2_64_A")
    registry = ParamRegistry()
    registry.add_all(params(G))
    assert [f"latent.dir.{k}" for k in range(LIVE_COUNT)] == registry.names("latent.dir.")[:LIVE_COUNT]
    assert registry.set("latent.dir.source", "blend") == 2.0
    assert registry.set("latent.dir.3", 99.0) == 10.0                    # clamped to the range
    assert registry.get("latent.dir.end") == G.num_ws


def test_ready_direction_sets_must_fit_the_model(oracle):
    from tests.conftest import oracle_generator

    G = oracle_generator(oracle, "sg2_64_A")                              # w_dim 128
    wrong = directions_for(tiny_generator(), DirectionConfig(count=3, samples=40))   # w_dim 32
    with pytest.raises(LatentFileError, match="directions for model A have w_dim=32; this model needs w_dim=128"):
        LatentEngine(G, directions={"a": wrong})
