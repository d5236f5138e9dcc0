"""``check_renders``: one test frame before a model is handed to the show.

Load-time checks refuse what can be seen in a file (bad kwargs, non-finite weights); a model can still
fail on a particular device (an op missing on MPS, fp16 overflow on CUDA, memory). The show renders one
frame with the new model off the render thread and keeps the current models when this raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.errors import ModelLoadError

TEST_SEED = 0


def check_renders(G: Any, device: str | torch.device, name: str | None = None) -> None:
    """Render one frame (seed 0, no truncation, const noise) of ``G`` on ``device``.

    ``G`` is a generator (or anything with the same ``mapping``/``synthesis`` API, such as a
    ``BlendedGenerator``) already on ``device``. Raises a one-line ``ModelLoadError`` naming ``name``
    (default: a description of ``G``) when rendering raises or any pixel is NaN or infinite.
    Synchronises with the device once; call it off the render thread.
    """
    label = name or f"the {getattr(G, 'img_resolution', '?')} px {getattr(G, 'family', 'StyleGAN')} model"
    try:
        seeded = np.random.RandomState(TEST_SEED).randn(1, G.z_dim)                   # [1, z_dim]
        z = torch.as_tensor(seeded, dtype=torch.float32, device=device)
        c = torch.zeros([1, G.c_dim], device=device)                                  # [1, c_dim]
        if G.c_dim:
            c[:, 0] = 1                                                               # the first class
        with torch.no_grad():
            ws = G.mapping(z, c if G.c_dim else None, truncation_psi=1.0)           # [1, num_ws, w_dim]
            image = G.synthesis(ws, noise_mode="const")                               # [1, C, R, R]
        shape = tuple(image.shape)
        bad = int((~torch.isfinite(image)).sum()) if image.is_floating_point() else -1
    except Exception as e:  # any failure at all means this model must not reach the show
        text = str(e).strip().splitlines()
        reason = f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
        raise ModelLoadError(f"{label}: cannot render a frame on {device} ({reason[:300]}); "
                             "check the file, or convert it again from the training pickle") from e
    expected = (1, G.img_channels, G.img_resolution, G.img_resolution)
    if shape != expected:
        raise ModelLoadError(f"{label}: renders an image of shape {list(shape)}, not {list(expected)}; "
                             f"the model is broken")
    if bad:
        count = "a non-float image" if bad < 0 else f"{bad:,} of {int(np.prod(shape)):,} pixel values NaN or infinite"
        raise ModelLoadError(f"{label}: renders {count} on {device}; the weights overflow on this device "
                             f"or are broken: use another snapshot")
