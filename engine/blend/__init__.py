"""Per-layer network blending: masks and EZ presets (:mod:`.masks`), the mask syntax (:mod:`.spec`),
the live :class:`~engine.blend.generator.BlendedGenerator` (:mod:`.generator`, :mod:`.stacks`) and how far
fine-tuning moved each layer (:mod:`.distance`).

``import engine.blend`` stays light (no torch); the generator is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .masks import (
    BLEND_KINDS,
    BlendState,
    MaskError,
    coarse,
    compose,
    crossover,
    curve,
    fine,
    interpolate,
    inverse,
    medium,
    panic_values,
    params,
    ramp_down,
    ramp_up,
    release_values,
)
from .spec import parse_mask

__all__ = [
    "BLEND_KINDS", "BlendState", "BlendedGenerator", "MaskError", "coarse", "compose", "crossover", "curve",
    "fine", "interpolate", "inverse", "medium", "panic_values", "params", "parse_mask", "ramp_down",
    "ramp_up", "release_values",
]


def __getattr__(name: str) -> Any:
    if name == "BlendedGenerator":
        return importlib.import_module(".generator", __name__).BlendedGenerator
    raise AttributeError(f"module 'engine.blend' has no attribute {name!r}")
