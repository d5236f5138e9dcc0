"""A tiny StyleGAN2 (16 px, w_dim 32, 6 W+ rows, ~45k parameters) for fast projection tests."""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=1)
def tiny_generator():
    """Built by netblend's own StyleGAN2 code with seeded random weights and an estimated ``w_avg``."""
    from engine.models.loaders import estimate_w_avg
    from engine.models.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=16, channel_base=256, channel_max=32,
                           mapping_kwargs={"num_layers": 2})
    estimate_w_avg(G, 2000)
    return G.eval()
