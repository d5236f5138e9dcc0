"""netblend: live StyleGAN network blending.

Public API (lazy, so ``import engine`` stays cheap)::

    G = engine.load_generator("model.pkl", device="cpu")     # .pkl, rosinality .pt, netblend format
    G = engine.build_generator(init_kwargs, state_dict)       # family from the keys
    z = engine.seed_to_z(seed, G.z_dim)                       # == RandomState(seed).randn(1, z_dim)
    B = engine.BlendedGenerator([G_a, G_b])                   # per-layer blending every frame
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import IncompatibleModels, LatentFileError, ModelLoadError, NetblendError, PresetError

_LAZY = {
    "load_generator": "engine.models.loaders",
    "build_generator": "engine.models.build",
    "seed_to_z": "engine.latents.seeds",
    "BlendedGenerator": "engine.blend.generator",
    "blend": "engine.blend",
}

__all__ = [
    "IncompatibleModels", "LatentFileError", "ModelLoadError", "NetblendError", "PresetError", *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    mod = importlib.import_module(module)
    return mod if module.endswith("." + name) else getattr(mod, name)
