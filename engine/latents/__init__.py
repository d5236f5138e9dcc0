"""Latents: seeds, truncation, style mixing, walks, W/W+ files and photo projection.

``params(G)`` declares the live ``latent.*`` parameters for a generator; ``LatentEngine`` turns a
frame's values and time into W+ on the device.
"""

from __future__ import annotations

from ..core.params import ParamSpec
from .directions import DirectionConfig, DirectionSet, directions_for, load_directions, save_directions
from .files import load_latent, save_latent
from .live import NOISE_MODES, WALK_MODES, WALK_SPACES, LatentEngine, input_transform
from .mixing import group_rows
from .seeds import SeedBank, seed_to_z, truncate
from .steering import LIVE_COUNT, SOURCES
from .walks import EASINGS

__all__ = [
    "EASINGS", "NOISE_MODES", "WALK_MODES", "WALK_SPACES", "DirectionConfig", "DirectionSet", "LatentEngine",
    "SeedBank", "directions_for", "group_rows", "input_transform", "load_directions", "load_latent", "params",
    "save_directions", "save_latent", "seed_to_z", "truncate",
]

MAX_SEED = 2 ** 32 - 1


def params(G) -> list[ParamSpec]:
    """The live ``latent.*`` parameters for generator ``G`` (class only if conditional, noise only for
    StyleGAN2, the input transform only for StyleGAN3)."""
    num_ws = G.num_ws
    fine_start, _ = group_rows("fine", num_ws, getattr(G, "family", "stylegan2"))
    specs = [
        ParamSpec("latent.seed", 0.0, 0.0, MAX_SEED, kind="int",
                  doc="seed: the same image as in every StyleGAN tool"),
        ParamSpec("latent.psi", 1.0, -1.0, 2.0, smoothing=0.05,
                  doc="truncation psi (1 = none, 0 = the average)"),
        ParamSpec("latent.cutoff", 0.0, 0.0, num_ws, kind="int",
                  doc="truncate only the first N W+ rows (0 = all)"),
        ParamSpec("latent.next_seed", kind="trigger", doc="latent.seed + 1"),
        ParamSpec("latent.prev_seed", kind="trigger", doc="latent.seed - 1"),
        ParamSpec("latent.mix.seed", 1.0, 0.0, MAX_SEED, kind="int", doc="style-mixing source seed"),
        ParamSpec("latent.mix.start", float(fine_start), 0.0, num_ws, kind="int", doc="first W+ row mixed"),
        ParamSpec("latent.mix.end", float(num_ws), 0.0, num_ws, kind="int",
                  doc="W+ row after the last mixed"),
        ParamSpec("latent.mix.amount", 0.0, 0.0, 1.0, smoothing=0.05, doc="style-mixing amount"),
        ParamSpec("latent.walk.mode", 0.0, kind="choice", choices=WALK_MODES, doc="latent walk"),
        ParamSpec("latent.walk.period", 4.0, 0.05, 3600.0, doc="seconds (or beats) per keyframe / per loop"),
        ParamSpec("latent.walk.beats", 0.0, kind="bool", doc="period counted in beats of the tempo"),
        ParamSpec("latent.walk.radius", 0.5, 0.0, 4.0, smoothing=0.05, doc="noise / random walk radius"),
        ParamSpec("latent.walk.space", 0.0, kind="choice", choices=WALK_SPACES, doc="walk in Z or in W"),
        ParamSpec("latent.walk.easing", float(EASINGS.index("cosine")), kind="choice", choices=EASINGS,
                  doc="easing between keyframes"),
        ParamSpec("latent.walk.momentum", 0.9, 0.0, 0.999, doc="random walk momentum"),
    ]
    specs += [ParamSpec(f"latent.dir.{k}", 0.0, -10.0, 10.0, smoothing=0.05,
                        doc=f"move along latent direction {k}, in spreads (the std of W along it)")
              for k in range(LIVE_COUNT)]
    specs += [
        ParamSpec("latent.dir.start", 0.0, 0.0, num_ws, kind="int", doc="first W+ row the directions move"),
        ParamSpec("latent.dir.end", float(num_ws), 0.0, num_ws, kind="int",
                  doc="W+ row after the last moved (0 = all)"),
        ParamSpec("latent.dir.source", 0.0, kind="choice", choices=SOURCES,
                  doc="directions of model A, model B or the current blend"),
    ]
    if G.c_dim > 0:
        specs.append(ParamSpec("latent.class", 0.0, 0.0, G.c_dim - 1, kind="int", doc="class label"))
    if getattr(G, "family", "stylegan2") == "stylegan2":
        specs += [
            ParamSpec("latent.noise.mode", 0.0, kind="choice", choices=NOISE_MODES, doc="per-pixel noise"),
            ParamSpec("latent.noise.strength", 1.0, 0.0, 4.0, smoothing=0.05, doc="noise gain"),
        ]
    else:
        specs += [
            ParamSpec("latent.xform.x", 0.0, -2.0, 2.0, smoothing=0.05, doc="input translate x"),
            ParamSpec("latent.xform.y", 0.0, -2.0, 2.0, smoothing=0.05, doc="input translate y"),
            ParamSpec("latent.xform.angle", 0.0, -360.0, 360.0, smoothing=0.05,
                      doc="input rotation, degrees"),
        ]
    return specs
