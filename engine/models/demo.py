"""The built-in demo pair: two StyleGAN2 generators made in code, deterministic, no file needed.

Model A is a seeded random generator tuned to look like something: every resolution's ToRGB
contributes (coarse colour fields plus fine texture) and a little noise animates the surface.
Model B is its "fine-tuned sibling": the same architecture and keys, coarse layers close to A, fine
layers and colours moved far (another palette, sharper texture), so moving the blend mask from
coarse to fine layers visibly changes shape, texture and colour. Same seed, same pictures, on
every machine.
"""

from __future__ import annotations

import functools
import math

import torch

from .build import build_generator

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
# How the demo plays when no preset is given: a slow slerp walk, B fading in over the finer layers.
DEMO_SHOW = {"latent.walk.mode": "slerp", "latent.walk.period": 4.0, "latent.psi": 0.7,
             "blend.curve.amount": 1.0, "blend.curve.center": 0.5, "blend.curve.width": 1.5}


def _randn_like(t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(t.shape, generator=gen, dtype=torch.float32)


def _fill_random(state: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Official-style initialisation from our own seeded generator: const and noise ~ N(0, 1), weights
    ~ N(0, 1 / lr_multiplier**2) (the spread of the module's own initialisation)."""
    out = {}
    for key, value in state.items():
        name = key.rsplit(".", 1)[-1]
        if name in ("const", "noise_const"):
            out[key] = _randn_like(value, gen)
        elif name == "weight":
            spread = float(value.std()) if value.numel() > 1 else 1.0
            out[key] = _randn_like(value, gen) * round(spread, 2)
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


@functools.lru_cache(maxsize=1)
def demo_state_dicts() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The two state dicts (CPU tensors, shared: do not modify): model A and its 'fine-tuned' sibling B."""
    shell = build_generator(DEMO_KWARGS)
    base = shell.state_dict()
    gen = torch.Generator().manual_seed(DEMO_SEED)
    a = _fill_random(base, gen)
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
        G = build_generator(DEMO_KWARGS, state)
        state["mapping.w_avg"] = w_avg = _w_avg(G)
        _normalise_output(G, state, w_avg)
    return a, b


def _normalise_output(G, state: dict[str, torch.Tensor], w_avg: torch.Tensor, target_std: float = 0.45) -> None:
    """Scale every ToRGB so the images of typical latents span about [-1, 1] (the skip output is
    linear in the ToRGB weights and biases)."""
    gen = torch.Generator().manual_seed(DEMO_SEED + 11)
    with torch.no_grad():
        ws = G.mapping(torch.randn(4, G.z_dim, generator=gen), truncation_psi=0.7)
        img = G.synthesis(ws)
    gain = target_std / float(img.std())
    for key in state:
        if key.endswith((".torgb.weight", ".torgb.bias")):
            state[key] = state[key] * gain


def demo_pair(device: str | torch.device = "cpu"):
    """Model A and model B of the built-in demo, ready to blend on ``device``."""
    a, b = demo_state_dicts()
    return build_generator(DEMO_KWARGS, a, device=device), build_generator(DEMO_KWARGS, b, device=device)
