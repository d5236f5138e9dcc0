"""netblend: live StyleGAN network blending.

Public API (lazy, so ``import engine`` stays cheap)::

    G = engine.load_generator("model.pkl", device="cpu")     # .pkl, rosinality .pt, netblend format
    G = engine.build_generator(init_kwargs, state_dict)       # family from the keys
    z = engine.seed_to_z(seed, G.z_dim)                       # == RandomState(seed).randn(1, z_dim)
    B = engine.BlendedGenerator([G_a, G_b])                   # per-layer blending every frame
    B.set_blend(layers={3: 1.0}, reset=True)                  # values persist across calls until reset
    bend = engine.NetworkBender(B); bend.set(3, "rotate", 90) # per-layer feature-map transforms

Every generator is an ``engine.Generator`` (same attributes, settable ``impl``/``precision``, the same
``engine.GeneratorInputError`` for the same mistake); ``engine.default_impl(device)`` is the op
implementation builders and loaders pick.
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
    "Generator": "engine.models.generator",
    "GeneratorInputError": "engine.models.generator",
    "default_impl": "engine.models.generator",
    "NetworkBender": "engine.models.bending",
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
