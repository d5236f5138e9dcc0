"""What blending costs per frame: one model versus a blended pair, with a still and a moving mask.

``netblend bench`` calls :func:`blend_benchmark` per configuration and prints :func:`format_rows`;
``python -m engine.blend.benchmark`` runs the standard set (the demo pair's config, a 128 px
demo-size model, StyleGAN2 256 at channel_base 8192 / channel_max 256). Weights are random (speed
does not depend on them); B is A plus noise. A frame is mapping + synthesis of one latent.

Scenarios (ms per frame, best of interleaved rounds):

- ``single``: the plain generator;
- ``still``: the blended pair, ``apply`` of an unchanged mask every frame (the steady state);
- ``fader``: one layer's fader moves every frame (that layer's tensors rewritten);
- ``sweep``: the curve center moves every frame (every synthesis layer rewritten; worst case).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .masks import compose, defaults


@dataclass(frozen=True)
class BlendBench:
    name: str
    params: int                 # values per model
    single_ms: float
    still_ms: float
    fader_ms: float
    sweep_ms: float
    fader_apply_ms: float       # the blend stage alone
    sweep_apply_ms: float


def _interleaved_ms(steps: Mapping[str, Callable[[int], Any]], frames: int, warmup: int,
                    sync: Callable[[], None]) -> dict[str, float]:
    """Best time (ms) of each step over ``frames`` rounds, the steps interleaved within each round.

    Interleaving and the minimum keep the comparison fair on a shared, noisy CPU: every scenario
    sees the same background load, and the best round is the one least disturbed by it.
    """
    for i in range(warmup):
        for step in steps.values():
            step(i)
    sync()
    best = {name: float("inf") for name in steps}
    for i in range(frames):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step(warmup + i)
            sync()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: 1000.0 * t for name, t in best.items()}


def sibling_state_dict(G: Any, seed: int) -> dict[str, torch.Tensor]:
    """A stand-in for a fine-tuned sibling of ``G``: every blendable tensor nudged, filters kept."""
    gen = torch.Generator().manual_seed(seed)
    fixed = set(G.layers.fixed)
    return {k: v if k in fixed else v + 0.1 * torch.randn(v.shape, generator=gen).to(v.device)
            for k, v in G.state_dict().items()}


def blend_benchmark(name: str, init_kwargs: Mapping[str, Any], frames: int = 20, warmup: int = 3,
                    device: str = "cpu") -> BlendBench:
    """Time one configuration on ``device``; returns ms per frame for each scenario."""
    from engine.models.build import build_generator

    from .generator import BlendedGenerator

    A: Any = build_generator(init_kwargs, device=device)
    B: Any = build_generator(A.init_kwargs, sibling_state_dict(A, 1), device=device)
    G = BlendedGenerator([A, B])
    n = len(G.layers)
    z = torch.randn(1, A.z_dim, generator=torch.Generator().manual_seed(0)).to(device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    still = compose({**defaults(n), "blend.curve.amount": 1.0, "blend.curve.width": 1.0}, n)
    rounds = 2 * (frames + warmup)                         # every call sees a new mask
    fader_states = [compose({**defaults(n), "blend.layer.2": 0.5 + 0.3 * i / rounds}, n) for i in range(rounds)]
    sweep_states = [compose({**defaults(n), "blend.curve.amount": 1.0, "blend.curve.width": 1.0,
                             "blend.curve.center": 0.2 + 0.6 * i / rounds}, n) for i in range(rounds)]

    def frame(gen: Any, state: Any = None) -> None:
        if state is not None:
            G.apply(state)
        gen.synthesis(gen.mapping(z, None), noise_mode="const")

    steps = {
        "single": lambda i: frame(A),
        "still": lambda i: frame(G, still),
        "fader": lambda i: frame(G, fader_states[2 * i]),
        "fader_apply": lambda i: G.apply(fader_states[2 * i + 1]),
        "sweep": lambda i: frame(G, sweep_states[2 * i]),
        "sweep_apply": lambda i: G.apply(sweep_states[2 * i + 1]),
    }
    with torch.inference_mode():
        ms = _interleaved_ms(steps, frames, warmup, sync)
    params = sum(v.numel() for v in A.state_dict().values())
    return BlendBench(name, params, ms["single"], ms["still"], ms["fader"], ms["sweep"], ms["fader_apply"],
                      ms["sweep_apply"])


def format_rows(rows: list[BlendBench]) -> str:
    """An aligned text table; the percentages are the blend stage's share of a single-model frame."""
    head = (f"{'model':<34}{'values':>11}{'single':>9}{'still':>9}{'fader':>9}{'sweep':>9}"
            f"{'fader blend':>18}{'sweep blend':>18}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.name:<34}{r.params:>11,}{r.single_ms:>9.2f}{r.still_ms:>9.2f}{r.fader_ms:>9.2f}"
                     f"{r.sweep_ms:>9.2f}{r.fader_apply_ms:>9.3f} ({100 * r.fader_apply_ms / r.single_ms:4.1f}%)"
                     f"{r.sweep_apply_ms:>9.3f} ({100 * r.sweep_apply_ms / r.single_ms:4.1f}%)")
    lines.append("ms per frame, best of interleaved rounds; a frame = mapping + synthesis of one latent;")
    lines.append("blend = the apply() stage alone, % of a single-model frame")
    return "\n".join(lines)


STANDARD = {
    "demo pair (SG2 256, cb 4096, cm 128)": dict(
        z_dim=128, w_dim=128, c_dim=0, img_resolution=256, img_channels=3, mapping_kwargs={"num_layers": 4},
        channel_base=4096, channel_max=128, architecture="skip", conv_clamp=256),
    "demo-size SG2 128 (cb 4096, cm 128)": dict(
        z_dim=128, w_dim=128, c_dim=0, img_resolution=128, img_channels=3, mapping_kwargs={"num_layers": 4},
        channel_base=4096, channel_max=128, architecture="skip", conv_clamp=256),
    "SG2 256 (cb 8192, cm 256)": dict(
        z_dim=512, w_dim=512, c_dim=0, img_resolution=256, img_channels=3, mapping_kwargs={"num_layers": 8},
        channel_base=8192, channel_max=256, architecture="skip", conv_clamp=256),
}


def run_standard(frames: int = 20, device: str = "cpu") -> str:
    """Benchmark the standard configurations and return the table."""
    return format_rows([blend_benchmark(name, kw, frames=frames, device=device) for name, kw in STANDARD.items()])


if __name__ == "__main__":
    print(run_standard())
