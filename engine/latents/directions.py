"""Latent directions: SeFa (closed form from the style affines) and GANSpace (PCA of W), cached on disk.

- **SeFa**: every synthesis layer turns W into styles with an affine ``A_l [channels, w_dim]``. Stacking
  the chosen layers' affine weights as stored (``[sum channels, w_dim]``) and taking the right singular
  vectors gives the W directions that change the styles most, sorted by singular value (``values``).
  ToRGB affines are left out unless asked for; ``normalize`` scales every row of the stack to unit norm
  first (each style channel counts the same).
- **GANSpace**: principal axes of W over ``samples`` latents drawn from ``seed``; ``values`` are the
  standard deviations along them.

A :class:`DirectionSet` holds ``directions [k, w_dim]`` (unit rows, float32), ``values [k]`` and
``spread [k]``: the standard deviation of the model's W along each direction, over the same
``samples`` latents (untruncated W of seeds ``seed``'s draw). The live ``latent.dir.<k>`` amounts count in
spreads: amount 1 moves W by one typical deviation of the model's own latents along that direction.
For GANSpace ``spread == values``. Each direction's sign is fixed so its largest component is positive.

:func:`directions_for` returns a model's directions from the cache folder
(``engine.core.paths.cache_dir("directions")``), keyed by a hash of the settings and of exactly the
weights the computation reads (the chosen affines and the mapping network); it computes and caches them
when absent. ``netblend directions MODEL -o dirs.npz`` writes one set to a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.paths import cache_dir
from ..errors import LatentFileError

METHODS = ("sefa", "ganspace")
FORMAT = 1


@dataclass(frozen=True)
class DirectionConfig:
    """How to compute a model's directions."""

    method: str = "sefa"                       # sefa | ganspace
    layers: tuple[int, ...] | None = None      # layer-table indices (SeFa); None = every styled layer
    torgb: bool = False                        # SeFa: include the ToRGB affines
    normalize: bool = False                    # SeFa: unit-norm rows before the decomposition
    count: int = 32                            # k: directions kept
    samples: int = 1000                        # N: W samples (GANSpace axes, every method's spread)
    seed: int = 0                              # seed of the W samples

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise LatentFileError(f"direction method {self.method!r} is unknown; use {' or '.join(METHODS)}")
        if self.count < 1:
            raise LatentFileError(f"-k {self.count}: keep at least one direction")
        if self.samples < 2:
            raise LatentFileError(f"--samples {self.samples}: need at least 2 latents for a spread")


@dataclass(frozen=True)
class DirectionSet:
    """Directions in W: unit rows ``[k, w_dim]``, their ``values [k]`` and ``spread [k]``."""

    directions: np.ndarray
    values: np.ndarray
    spread: np.ndarray
    method: str
    layers: tuple[int, ...] = ()
    normalize: bool = False

    @property
    def count(self) -> int:
        return int(self.directions.shape[0])

    def scaled(self, count: int) -> np.ndarray:
        """float32 ``[count, w_dim]``: the first ``count`` directions times their spread (zero rows past k)."""
        out = np.zeros((count, self.directions.shape[1]), dtype=np.float32)
        k = min(count, self.count)
        out[:k] = self.directions[:k] * self.spread[:k, None]
        return out


# ---------------------------------------------------------------------------------- the computations
def styled_layers(G, torgb: bool = False) -> list[int]:
    """Layer-table indices whose style affine SeFa uses by default (ToRGB-only layers only with ``torgb``)."""
    return [entry.index for entry in G.layers if _affine_keys_of(entry, torgb)]


def _affine_keys_of(entry, torgb: bool) -> list[str]:
    kinds = ("affine", "torgb") if torgb else ("affine",)
    return [key for key, kind in entry.params if kind in kinds and key.endswith("affine.weight")]


def affine_keys(G, layers: Sequence[int] | None = None, torgb: bool = False) -> list[str]:
    """State-dict keys of the style affine weights of ``layers`` (layer-table indices), in layer order."""
    table = G.layers
    chosen = styled_layers(G, torgb) if layers is None else list(layers)
    for i in chosen:
        if not 0 <= int(i) < len(table):
            raise LatentFileError(f"--layers: layer {i} does not exist; this model has layers 0..{len(table) - 1}")
    keys = [key for i in sorted(set(int(i) for i in chosen)) for key in _affine_keys_of(table[i], torgb)]
    if not keys:
        raise LatentFileError(f"--layers {','.join(map(str, chosen))}: none of these layers has a style affine"
                              + ("" if torgb else " (ToRGB affines need --torgb)"))
    return keys


def _top_eigen(gram: torch.Tensor, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest eigenvalues ``[k]`` and unit eigenvectors ``[k, dim]`` of a symmetric float64 matrix."""
    values, vectors = torch.linalg.eigh(gram)                                 # ascending
    k = min(count, gram.shape[0])
    top = torch.flip(torch.arange(gram.shape[0]), [0])[:k]
    return values[top].clamp_min(0.0).numpy(), vectors[:, top].T.contiguous().numpy()


def sefa(weights: Sequence[np.ndarray], count: int, normalize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Right singular vectors ``[k, w_dim]`` and singular values ``[k]`` of the stacked affines (float64).

    Computed as the eigenvectors of ``A^T A`` (``[w_dim, w_dim]``): the same vectors as an SVD of the
    tall stack, at a fraction of the cost (torch threads, not a second BLAS pool).
    """
    stack = torch.cat([torch.as_tensor(np.asarray(w), dtype=torch.float64).reshape(w.shape[0], -1)
                       for w in weights])                                     # [rows, w_dim]
    if normalize:
        stack = stack / stack.norm(dim=1, keepdim=True).clamp_min(1e-12)
    squared, vectors = _top_eigen(stack.T @ stack, min(count, stack.shape[0]))
    return _fix_signs(vectors), np.sqrt(squared)


def ganspace(samples: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal axes ``[k, w_dim]`` of W samples ``[N, w_dim]`` and the standard deviations along them."""
    centred = torch.as_tensor(np.asarray(samples), dtype=torch.float64)
    centred = centred - centred.mean(dim=0, keepdim=True)
    variance, vectors = _top_eigen(centred.T @ centred / max(len(centred) - 1, 1), min(count, len(centred) - 1))
    return _fix_signs(vectors), np.sqrt(variance)


def spread_along(samples: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Standard deviation of W samples ``[N, w_dim]`` along each unit direction ``[k, w_dim]``."""
    centred = torch.as_tensor(np.asarray(samples), dtype=torch.float64)
    centred = centred - centred.mean(dim=0, keepdim=True)
    projected = centred @ torch.as_tensor(np.asarray(directions), dtype=torch.float64).T   # [N, k]
    return projected.std(dim=0).numpy()


def _fix_signs(rows: np.ndarray) -> np.ndarray:
    peak = np.argmax(np.abs(rows), axis=1)
    signs = np.sign(rows[np.arange(len(rows)), peak])
    return rows * np.where(signs == 0, 1.0, signs)[:, None]


def directions_from(affines: Sequence[np.ndarray], samples: np.ndarray, config: DirectionConfig,
                    layers: Sequence[int] = ()) -> DirectionSet:
    """A :class:`DirectionSet` from affine weights (SeFa) and W samples (GANSpace and the spread)."""
    if config.method == "sefa":
        directions, values = sefa(affines, config.count, config.normalize)
    else:
        directions, values = ganspace(samples, config.count)
    spread = spread_along(samples, directions)
    return DirectionSet(directions.astype(np.float32), values.astype(np.float32), spread.astype(np.float32),
                        config.method, tuple(int(i) for i in layers), config.normalize)


def sample_inputs(G, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The z ``[samples, z_dim]`` (``RandomState(seed).randn``) and, for conditional models, one-hot
    classes ``[samples, c_dim]`` drawn from the same generator, that every spread is measured over."""
    rng = np.random.RandomState(int(seed) % (2 ** 32))
    z = rng.randn(samples, G.z_dim)
    if not G.c_dim:
        return z, None
    return z, np.eye(G.c_dim)[rng.randint(0, G.c_dim, size=samples)]


@torch.no_grad()
def sample_w(G, samples: int, seed: int, batch: int = 256) -> np.ndarray:
    """Untruncated W ``[samples, w_dim]`` (float64) of the latents of :func:`sample_inputs`."""
    z, c = sample_inputs(G, samples, seed)
    device = G.mapping.w_avg.device
    out = []
    for start in range(0, samples, batch):
        zb = torch.as_tensor(z[start:start + batch], dtype=torch.float32, device=device)
        cb = None if c is None else torch.as_tensor(c[start:start + batch], dtype=torch.float32, device=device)
        out.append(G.mapping(zb, cb, truncation_psi=1.0)[:, 0].double().cpu().numpy())
    return np.concatenate(out, axis=0)


def compute_directions(G, config: DirectionConfig = DirectionConfig()) -> DirectionSet:
    """Compute ``G``'s directions now (no cache)."""
    layers = _resolved_layers(G, config)
    sd = G.state_dict()
    affines = [sd[key].detach().double().cpu().numpy() for key in affine_keys(G, layers, config.torgb)] \
        if config.method == "sefa" else []
    return directions_from(affines, sample_w(G, config.samples, config.seed), config, layers)


def _resolved_layers(G, config: DirectionConfig) -> tuple[int, ...]:
    if config.method != "sefa":
        return ()
    return tuple(sorted(set(config.layers))) if config.layers is not None else tuple(styled_layers(G, config.torgb))


# ---------------------------------------------------------------------------------- files and cache
def save_directions(path: str | os.PathLike, found: DirectionSet) -> Path:
    """Write ``found`` as ``.npz`` (``directions``, ``values``, ``spread``, ``meta``) atomically."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise LatentFileError(f"{path.name}: directions are written as .npz; name the output dirs.npz")
    meta = json.dumps({"format": FORMAT, "method": found.method, "layers": list(found.layers),
                       "normalize": found.normalize})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, directions=found.directions, values=found.values, spread=found.spread,
                     meta=np.array(meta))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_directions(path: str | os.PathLike, w_dim: int | None = None) -> DirectionSet:
    """Read a directions ``.npz`` (``directions [k, w_dim]``, ``values [k]``; ``spread`` optional)."""
    path = Path(path)
    if not path.is_file():
        raise LatentFileError(f"directions file {path} does not exist; make one with netblend directions MODEL")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name]) for name in data.files}
    except Exception as e:  # numpy raises many types for a corrupt file
        raise LatentFileError(f"cannot read {path.name}: {type(e).__name__}: {e}") from None
    if "directions" not in arrays or arrays["directions"].ndim != 2:
        raise LatentFileError(f"{path.name} has no 'directions' array of shape [k, w_dim]")
    directions = arrays["directions"].astype(np.float32)
    if w_dim is not None and directions.shape[1] != w_dim:
        raise LatentFileError(f"{path.name} holds directions of w_dim={directions.shape[1]}; "
                              f"this model needs w_dim={w_dim}")
    k = directions.shape[0]
    values = arrays.get("values", np.ones(k)).astype(np.float32).reshape(-1)[:k]
    spread = arrays.get("spread", np.ones(k)).astype(np.float32).reshape(-1)[:k]
    meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
    return DirectionSet(directions, values, spread, str(meta.get("method", "file")),
                        tuple(meta.get("layers", ())), bool(meta.get("normalize", False)))


def cache_key(G, config: DirectionConfig) -> str:
    """Hash of the settings and of every tensor the computation reads (so a changed model misses)."""
    layers = _resolved_layers(G, config)
    digest = hashlib.sha256(json.dumps({
        "format": FORMAT, "config": {**config.__dict__, "layers": list(layers)},
        "family": getattr(G, "family", "?"), "z_dim": G.z_dim, "w_dim": G.w_dim, "c_dim": G.c_dim,
    }, sort_keys=True).encode())
    sd = G.state_dict()
    keys = (affine_keys(G, layers, config.torgb) if config.method == "sefa" else []) + \
        sorted(k for k in sd if k.startswith("mapping."))
    for key in keys:
        digest.update(key.encode())
        digest.update(sd[key].detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def directions_for(G, config: DirectionConfig = DirectionConfig(), cache: bool = True) -> DirectionSet:
    """``G``'s directions from the cache folder, computed and cached first when absent."""
    if not cache:
        return compute_directions(G, config)
    path = cached_path(G, config)
    if path.is_file():
        try:
            return load_directions(path, G.w_dim)
        except LatentFileError:
            pass                                  # a damaged cache entry is recomputed
    found = compute_directions(G, config)
    save_directions(path, found)
    return found


def cached_path(G, config: DirectionConfig = DirectionConfig()) -> Path:
    """Where :func:`directions_for` keeps ``G``'s directions for ``config``."""
    return cache_dir("directions", f"{config.method}-{cache_key(G, config)}.npz")
