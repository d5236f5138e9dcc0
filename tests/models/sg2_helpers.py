"""Tiny StyleGAN2 models for tests: random weights with every constant-initialised tensor perturbed,
so biases, noise strengths and w_avg all matter (as in the oracle's "de-degenerated" models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.models.build import build_generator


def tiny_kwargs(architecture: str = "skip", c_dim: int = 0, resolution: int = 16, **synthesis) -> dict:
    """Nested (StyleGAN2-ADA) kwargs of a model small enough for a unit test."""
    return dict(z_dim=8, c_dim=c_dim, w_dim=16, img_resolution=resolution, img_channels=3,
                mapping_kwargs={"num_layers": 2},
                synthesis_kwargs={"channel_base": 128, "channel_max": 16, "num_fp16_res": 0,
                                  "conv_clamp": 256, "architecture": architecture, **synthesis})


def tiny_generator(architecture: str = "skip", c_dim: int = 0, resolution: int = 16, seed: int = 0,
                   **synthesis) -> torch.nn.Module:
    """A built generator with random, de-degenerated weights (deterministic for a seed)."""
    torch.manual_seed(seed)
    G = build_generator(tiny_kwargs(architecture, c_dim, resolution, **synthesis))
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for tensor in list(G.parameters()) + [G.mapping.w_avg]:
            if tensor.numel() == 1 or bool((tensor == tensor.flatten()[0]).all()):
                tensor.add_(0.3 * torch.randn(tensor.shape, generator=generator))
    return G


def oracle_model(oracle: Path, name: str) -> tuple[dict, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(json metadata, state dict, reference outputs) of one oracle model."""
    meta = json.loads((oracle / f"{name}.json").read_text())
    with np.load(oracle / f"{name}.npz") as weights, np.load(oracle / f"{name}_ref.npz") as ref:
        return meta, dict(weights), dict(ref)


def assert_close_to_ref(out: torch.Tensor | np.ndarray, ref: np.ndarray, what: str) -> None:
    """The oracle tolerance: max|out - ref| <= 2e-5 * max(1, max|ref|)."""
    out = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out
    assert out.shape == ref.shape, f"{what}: shape {out.shape} != {ref.shape}"
    err = float(np.abs(out.astype(np.float64) - ref).max())
    limit = 2e-5 * max(1.0, float(np.abs(ref).max()))
    assert err <= limit, f"{what}: max error {err:.3g} > {limit:.3g}"
