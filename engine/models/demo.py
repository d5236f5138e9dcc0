"""The built-in demo pair: two StyleGAN2 generators made in code, deterministic, no file needed.

Model A is a seeded random generator tuned to look like something: every resolution's ToRGB
contributes (coarse colour fields plus fine texture) and a little noise animates the surface.
Model B is its "fine-tuned sibling": the same architecture and keys, coarse layers close to A, fine
layers and colours moved far (another palette, sharper texture), so moving the blend mask from
coarse to fine layers visibly changes shape, texture and colour.

Same demo, every process and every machine of a kind: the recipe draws every random number from its
own seeded ``torch.Generator`` (never from torch's global RNG, which it leaves untouched), takes the
weight spreads from the layers' definitions (not from a random shell), renders its normalisation
frames with the reference ops, const noise and one thread, and rounds the output gain. The pair is
cached like a converted model (:func:`cached_demo_state_dicts`), so only the first start builds it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import torch

from engine.core import paths
from engine.errors import NetblendError

from .build import build_generator, flatten_kwargs
from .loaders import native
from .mapping import FullyConnectedLayer

log = logging.getLogger(__name__)

DEMO_KWARGS = {
    "z_dim": 128,
    "w_dim": 128,
    "c_dim": 0,
    "img_resolution": 256,
    "img_channels": 3,
    "mapping_kwargs": {"num_layers": 4},
    "channel_base": 4096,
    "channel_max": 128,
    "architecture": "skip",
    "conv_clamp": 256,
}
DEMO_SEED = 2026
# Bump when the demo's numbers change in a way the hashed sources (demo_recipe_key) cannot see.
DEMO_RECIPE_VERSION = 2
# Sources whose code runs in the recipe: a change to any of them invalidates the cached pair.
_RECIPE_MODULES = ("demo.py", "stylegan2.py", "mapping.py", "generator.py")
# How the demo plays when no preset is given: a slow slerp walk, B fading in over the finer layers.
DEMO_SHOW = {"latent.walk.mode": "slerp", "latent.walk.period": 4.0, "latent.psi": 0.7,
             "blend.curve.amount": 1.0, "blend.curve.center": 0.5, "blend.curve.width": 1.5}


def _randn_like(t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(t.shape, generator=gen, dtype=torch.float32)


def _init_spread(shell: torch.nn.Module, key: str) -> float:
    """The spread of the official initialisation of weight ``key``: N(0, 1) for convolutions, N(0, 1 /
    lr_multiplier**2) for dense layers (read from the layer's definition, never from random values)."""
    owner = shell.get_submodule(key.rsplit(".", 1)[0])
    return 1.0 / owner.bias_gain if isinstance(owner, FullyConnectedLayer) else 1.0


def _fill_random(shell: torch.nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Official-style initialisation from our own seeded generator: const and noise ~ N(0, 1), weights
    ~ N(0, spread**2); everything else (biases, filters, noise strengths) as the constructor sets it."""
    out = {}
    for key, value in shell.state_dict().items():
        name = key.rsplit(".", 1)[-1]
        if name in ("const", "noise_const"):
            out[key] = _randn_like(value, gen)
        elif name == "weight":
            out[key] = _randn_like(value, gen) * _init_spread(shell, key)
        else:
            out[key] = value.clone()
    return out


def _palette(angle: float, saturation: float) -> torch.Tensor:
    """A 3x3 colour matrix: hue rotation by ``angle`` around the grey axis, then a saturation gain."""
    c, s = math.cos(angle), math.sin(angle)
    k = torch.full((3,), 1 / math.sqrt(3.0))
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    rot = c * torch.eye(3) + s * cross + (1 - c) * torch.outer(k, k)
    grey = torch.full((3, 3), 1 / 3.0)
    return grey + saturation * (rot - grey)


def _shape_model(state: dict[str, torch.Tensor], res_gain: dict[int, float], palette: torch.Tensor,
                 noise: float) -> None:
    """Scale each ToRGB so every resolution shows, recolour it, set the noise strengths (in place)."""
    for key in list(state):
        parts = key.split(".")
        if len(parts) < 3 or not parts[1].startswith("b"):
            continue
        res = int(parts[1][1:])
        if parts[2:] in (["torgb", "weight"], ["torgb", "bias"]):
            w = state[key]
            state[key] = (palette @ w.reshape(3, -1)).reshape(w.shape) * res_gain.get(res, 1.0)
        elif parts[-1] == "noise_strength":
            state[key] = torch.tensor(noise * (1.0 + math.log2(res) / 8))


def _oriented_kernels(shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """3x3 edge detectors at a random orientation per output channel, ``[out, in, 3, 3]``: added to
    B's fine convolutions they turn soft colour fields into ridged, marbled texture."""
    out_ch, in_ch = shape[0], shape[1]
    angle = torch.rand(out_ch, generator=gen) * math.pi                        # [out]
    y, x = torch.meshgrid(torch.arange(-1.0, 2.0), torch.arange(-1.0, 2.0), indexing="ij")
    ridge = torch.cos(angle)[:, None, None] * x + torch.sin(angle)[:, None, None] * y   # [out, 3, 3]
    sign = torch.randint(0, 2, (out_ch, in_ch), generator=gen).float() * 2 - 1          # [out, in]
    return sign[:, :, None, None] * ridge[:, None]                                       # [out, in, 3, 3]


def _w_avg(G, n: int = 1000) -> torch.Tensor:
    gen = torch.Generator().manual_seed(DEMO_SEED + 7)
    with torch.no_grad():
        z = torch.randn(n, G.z_dim, generator=gen)
        return G.mapping(z, truncation_psi=1.0)[:, 0].mean(0)


@contextlib.contextmanager
def _reproducible() -> Iterator[None]:
    """One intra-op thread (reductions and matrix products in a fixed order) and torch's global RNG
    left as it was; both restored afterwards."""
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(DEMO_SEED)                 # the shell's own init, though nothing reads it
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def build_demo_state_dicts() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Run the demo recipe: model A and its 'fine-tuned' sibling B as CPU state dicts, bit-identical in
    every process on machines of one kind (a few seconds; :func:`cached_demo_state_dicts` keeps them)."""
    with _reproducible(), torch.no_grad():
        shell = build_generator(DEMO_KWARGS, impl="ref")
        gen = torch.Generator().manual_seed(DEMO_SEED)
        a = _fill_random(shell, gen)
        # Fine-tuning moves fine layers most: B = A + noise whose size grows with resolution.
        b = {}
        for key, value in a.items():
            parts = key.split(".")
            if key.startswith("synthesis.b") and value.is_floating_point() and parts[-1] in ("weight", "bias", "const"):
                res = int(parts[1][1:])
                amount = 0.15 + 0.6 * min(1.0, math.log2(res / 4) / 5)
                b[key] = value + amount * value.std().clamp_min(0.1) * _randn_like(value, gen)
                if res >= 16 and parts[2].startswith("conv") and parts[-1] == "weight" and value.dim() == 4:
                    b[key] = b[key] + 1.5 * value.std() * _oriented_kernels(value.shape, gen)
            else:
                b[key] = value.clone()
        _shape_model(a, {4: 1.0, 8: 1.1, 16: 1.1, 32: 0.9, 64: 0.6, 128: 0.3, 256: 0.15}, _palette(0.0, 1.5), 0.02)
        _shape_model(b, {4: 0.6, 8: 0.8, 16: 1.0, 32: 1.2, 64: 1.0, 128: 0.5, 256: 0.25}, _palette(2.2, 1.9), 0.03)
        for state in (a, b):
            G = build_generator(DEMO_KWARGS, state, impl="ref")
            state["mapping.w_avg"] = _w_avg(G)
            G.mapping.w_avg.copy_(state["mapping.w_avg"])
            _normalise_output(G, state)
    return a, b


def _normalise_output(G, state: dict[str, torch.Tensor], target_std: float = 0.45) -> None:
    """Scale every ToRGB so the images of typical latents span about [-1, 1] (the skip output is
    linear in the ToRGB weights and biases). The gain is rounded to 3 significant digits, so the
    last bits of the rendering cannot move it."""
    gen = torch.Generator().manual_seed(DEMO_SEED + 11)
    ws = G.mapping(torch.randn(4, G.z_dim, generator=gen), truncation_psi=0.7)
    img = G.synthesis(ws, noise_mode="const")
    gain = float(f"{target_std / float(img.double().std()):.3g}")
    for key in state:
        if key.endswith((".torgb.weight", ".torgb.bias")):
            state[key] = state[key] * gain


@functools.lru_cache(maxsize=1)
def demo_state_dicts() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The two state dicts (CPU tensors, shared: do not modify), built by the recipe once per process."""
    return build_demo_state_dicts()


def demo_recipe_key() -> str:
    """A hash of everything the demo depends on: the recipe version, kwargs, seed, torch's version and
    the source of the modules whose code runs in the recipe. A change to any of them rebuilds the cache."""
    here = Path(__file__).parent
    digest = hashlib.sha256(json.dumps([DEMO_RECIPE_VERSION, DEMO_KWARGS, DEMO_SEED,
                                        torch.__version__.split("+")[0]], sort_keys=True).encode())
    for name in _RECIPE_MODULES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:20]


def state_dict_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over the keys, dtypes, shapes and bytes of a state dict (in key order)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        value = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{value.dtype}:{list(value.shape)};".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _cache_files(key: str) -> tuple[Path, Path, Path]:
    folder = paths.cache_dir("demo")
    stem = f"demo-{key}"
    return folder / f"{stem}-A{native.SUFFIX}", folder / f"{stem}-B{native.SUFFIX}", folder / f"{stem}.json"


def _read_cache(key: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None:
    """The cached pair for ``key``, or None when it is absent, corrupt or made by another recipe."""
    a_path, b_path, index_path = _cache_files(key)
    if not index_path.exists():
        return None
    try:
        index = json.loads(index_path.read_text())
        states = tuple(native.read_native(path).state_dict for path in (a_path, b_path))
        digests = [state_dict_digest(state) for state in states]
        if index.get("key") != key or index.get("digests") != digests:
            raise NetblendError("its contents do not match the digests written with it")
    except (OSError, ValueError, NetblendError) as e:
        log.warning("the cached demo pair in %s is unusable (%s); building it again", index_path.parent, e)
        return None
    return states[0], states[1]


def _write_cache(key: str, a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Write both models (atomically, each), then the index naming their digests; never fatal."""
    a_path, b_path, index_path = _cache_files(key)
    try:
        for path, state in ((a_path, a), (b_path, b)):
            native.save_native(path, state, flatten_kwargs(DEMO_KWARGS), "stylegan2")
        index = json.dumps({"key": key, "digests": [state_dict_digest(a), state_dict_digest(b)]})
        temporary = index_path.with_name(f".{index_path.name}.tmp")
        temporary.write_text(index)
        temporary.replace(index_path)
        for stale in index_path.parent.glob("demo-*"):
            if not stale.name.startswith(f"demo-{key}"):
                stale.unlink(missing_ok=True)
    except OSError as e:
        log.warning("could not cache the demo pair in %s (%s); the next start builds it again", index_path.parent, e)


def cached_demo_state_dicts() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The demo pair from the cache (``engine.core.paths.cache_dir('demo')``, netblend format, keyed by
    :func:`demo_recipe_key`); built and cached when absent, corrupt or stale. A cache that cannot be
    read or written is rebuilt or skipped with a warning, never an error."""
    key = demo_recipe_key()
    cached = _read_cache(key)
    if cached is not None:
        return cached
    a, b = demo_state_dicts()
    _write_cache(key, a, b)
    return a, b


def demo_pair(device: str | torch.device = "cpu"):
    """Model A and model B of the built-in demo, ready to blend on ``device`` (cached after the first start).
    Each call returns generators of their own (the weights are copied, never shared) using the device's
    default impl."""
    a, b = cached_demo_state_dicts()
    # A plain build (its random init is cheap at this size, unlike the meta-device path's first use),
    # with torch's global RNG left as it was; load_state_dict copies, so nothing is shared.
    with torch.random.fork_rng(devices=[]):
        return build_generator(DEMO_KWARGS, a, device=device), build_generator(DEMO_KWARGS, b, device=device)
