"""Blend masks: from the live ``blend.*`` parameters to one :class:`BlendState` per frame.

A mask says, for every layer of the layer table, how far to go from model A (``t = 0``) to model B
(``t = 1``); values outside [0, 1] overblend. The render loop calls, once per frame::

    state = engine.blend.masks.compose(snapshot.values, num_layers)
    blended.apply(state)          # BlendedGenerator: rewrites only the tensors whose t changed

Composition rule (what a performer hears when two controls touch one layer), per blendable key:

1. **curve**: ``c_i = amount * s((i - center * (L - 1)) / width)`` over layer index ``i`` of ``L``
   layers, ``s`` the logistic (``direction = down`` mirrors it). ``width`` is in layers; ``width``
   below ``1e-3`` is a hard step (a layer swap at ``center``); a wide curve is flat at
   ``amount / 2`` (an interpolation).
2. **faders** (``blend.layer.mode``): in ``absolute`` mode (the default) a fader means what its label
   says: ``t_i = c_i + h_i (f_i - c_i)`` with ``f_i = blend.layer.<i>`` and ``h_i = blend.hold.<i>``.
   Moving fader ``i`` (a control's write, :attr:`ParamSpec.grabs`) sets ``h_i = 1``, so the layer
   is exactly the fader (0 = A, 1 = B) while the curve keeps driving every layer whose fader was not
   touched (``h_i = 0``). Panic, a recall and ``blend.release`` hand layers back to the curve;
   between 0 and 1 ``h_i`` crossfades (a morph passes through it). In ``offset`` mode the faders are
   added to the curve, ``t_i = c_i + f_i``, and the holds are ignored.
3. **resolution** overrides (``set_blend(resolutions=...)`` and the ``4:0,16:1`` mask syntax of
   ``netblend blend``) replace ``t`` for every key of that synthesis block (StyleGAN2
   ``synthesis.b{R}.*``; StyleGAN3 the layers of that size).
4. **kind** overrides: ``t = lerp(t, blend.kind.<kind>, blend.kind.<kind>.amount)`` for keys of that
   kind (``conv``, ``bias``, ``affine``, ``torgb``, ``noise``, ``const``, ``stat``).
5. **mapping**: every ``mapping.*`` key, ``w_avg`` included, takes ``blend.mapping`` alone.
6. **safety**: every result is clamped to ``[blend.safety.min, blend.safety.max]``.
7. **channels**: within each synthesis layer only ``blend.channel.fraction`` of the output channels
   take the result, chosen by ``blend.channel.order`` (most or least changed by fine-tuning first, or
   a random order from ``blend.channel.seed``); the others stay model A (:mod:`engine.blend.channels`).

EZ presets (:func:`interpolate`, :func:`crossover`, :func:`coarse`, :func:`medium`, :func:`fine`,
:func:`ramp_up`, :func:`ramp_down`, :func:`inverse`), :func:`panic_values` and
:func:`release_values` return ``{parameter name: value}`` dicts to write into the registry. Layers are
named by their *nominal* resolution (:attr:`LayerEntry.nominal`: StyleGAN3's 36 px layers are 16 px).
The mask syntax (``crossover@32:width=1``) is parsed by :mod:`engine.blend.spec`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..core.params import ParamSpec
from ..errors import NetblendError
from ..models.layers import KINDS

BLEND_KINDS = tuple(k for k in KINDS if k != "mapping")   # kinds with a blend.kind.<kind> override
DIRECTIONS = ("up", "down")
LAYER_MODES = ("absolute", "offset")      # what a per-layer fader means (absolute first: the default)
CHANNEL_ORDERS = ("most", "least", "random")
SAFETY_DEFAULT = (-2.0, 3.0)
SAFETY_LIMIT = (-10.0, 11.0)       # the widest safety range a performer can dial in
HARD_WIDTH = 1e-3                  # curve widths below this are a hard step
BANDS = {"coarse": (0, 8), "medium": (16, 32), "fine": (64, 1 << 30)}   # nominal resolutions, inclusive
FADER_SMOOTHING = 0.05             # seconds every blend value glides over (a grab or a preset cuts)


def fader(i: int) -> str:
    """The name of layer ``i``'s fader."""
    return f"blend.layer.{i}"


def hold(i: int) -> str:
    """The name of layer ``i``'s hold: 1 = the layer follows its fader, 0 = the curve."""
    return f"blend.hold.{i}"


@lru_cache(maxsize=8)
def layer_names(num_layers: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fader and hold names of ``num_layers`` layers (built once per layer count: compose runs
    every frame)."""
    return tuple(fader(i) for i in range(num_layers)), tuple(hold(i) for i in range(num_layers))


class MaskError(NetblendError, ValueError):
    """A blend value or mask that cannot be used (NaN/inf, unknown layer, bad preset argument)."""


@dataclass(frozen=True)
class BlendState:
    """One frame's blend: what :meth:`BlendedGenerator.apply` needs, already clamped.

    ``faders``, ``holds`` and ``mode`` say how the layers got their t (the overlay shows them next
    to ``layers``); they take no part in equality, so a state compares equal when it renders equal."""

    layers: tuple[float, ...]                          # per-layer t (curve and faders composed), clamped
    mapping: float = 0.0                               # t of every mapping key (w_avg included)
    kinds: tuple[tuple[str, float, float], ...] = ()   # (kind, value, amount) with amount != 0
    resolutions: tuple[tuple[int, float], ...] = ()    # (block resolution, t) overrides
    safety: tuple[float, float] = SAFETY_DEFAULT       # (lo, hi) applied after every override
    models: tuple[float, ...] = ()                     # weights of models C, D, ... on every synthesis layer
    channels: tuple[float, str, int] = (1.0, CHANNEL_ORDERS[0], 0)  # (fraction, order, seed): channel-wise blending
    faders: tuple[float, ...] = field(default=(), compare=False)  # blend.layer.<i> as the performer set them
    holds: tuple[float, ...] = field(default=(), compare=False)   # blend.hold.<i> (1 = the fader)
    mode: str = field(default=LAYER_MODES[0], compare=False)      # blend.layer.mode


def finite(name: str, value: object) -> float:
    """``value`` as a float, or :class:`MaskError` for anything that is not a finite number."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MaskError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise MaskError(f"{name}: {v} is not a finite number; the last good value stays")
    return v


def params(num_layers: int, num_models: int = 2) -> list[ParamSpec]:
    """The live ``blend.*`` parameters for ``num_models`` models with ``num_layers`` layers.

    With more than two models, ``blend.model.<k>`` (k = 2 for model C, ...) adds model k on every
    synthesis layer in free N-way form: ``A + t (B - A) + w_k (M_k - A)`` (the mapping stays A-B)."""
    lo, hi = SAFETY_LIMIT
    glide = FADER_SMOOTHING
    specs = [ParamSpec(fader(i), 0.0, lo, hi, smoothing=glide, grabs=hold(i),
                       doc=f"layer {i}: 0 = A, 1 = B once moved (the curve drives it until then)")
             for i in range(num_layers)]
    specs += [ParamSpec(hold(i), 0.0, 0.0, 1.0, smoothing=glide,
                        doc=f"1 = layer {i} follows its fader, 0 = the curve (moving the fader sets 1)")
              for i in range(num_layers)]
    specs += [
        ParamSpec("blend.layer.mode", 0.0, kind="choice", choices=LAYER_MODES,
                  doc="absolute: a moved fader is its layer's t; offset: faders add to the curve"),
        ParamSpec("blend.release", 0.0, kind="trigger", doc="every layer back to the curve"),
        ParamSpec("blend.curve.amount", 0.0, lo, hi, smoothing=glide, doc="height of the crossover curve"),
        ParamSpec("blend.curve.center", 0.5, 0.0, 1.0, smoothing=glide,
                  doc="crossover position over the layers (0 = first, 1 = last)"),
        ParamSpec("blend.curve.width", 1.0, 0.0, 64.0, smoothing=glide,
                  doc="crossover softness in layers (0 = hard layer swap)"),
        ParamSpec("blend.curve.direction", 0.0, kind="choice", choices=DIRECTIONS,
                  doc="up: A below the center, B above; down: the mirror"),
        ParamSpec("blend.mapping", 0.0, lo, hi, smoothing=glide, doc="mapping network and w_avg (0 = A)"),
    ]
    for kind in BLEND_KINDS:
        specs.append(ParamSpec(f"blend.kind.{kind}", 0.0, lo, hi, smoothing=glide,
                               doc=f"t for every {kind} parameter (weighted by .amount)"))
        specs.append(ParamSpec(f"blend.kind.{kind}.amount", 0.0, 0.0, 1.0, smoothing=glide,
                               doc=f"how much blend.kind.{kind} overrides the layer values"))
    specs += [
        ParamSpec("blend.safety.min", SAFETY_DEFAULT[0], lo, 0.0, doc="lowest t allowed (overblend)"),
        ParamSpec("blend.safety.max", SAFETY_DEFAULT[1], 1.0, hi, doc="highest t allowed (overblend)"),
        ParamSpec("blend.panic", 0.0, kind="trigger", doc="back to model A at once"),
        ParamSpec("blend.channel.fraction", 1.0, 0.0, 1.0, smoothing=glide,
                  doc="fraction of each layer's output channels that blend (1 = all, 0 = model A)"),
        ParamSpec("blend.channel.order", 0.0, kind="choice", choices=CHANNEL_ORDERS,
                  doc="which channels blend first: most / least changed by fine-tuning, or random"),
        ParamSpec("blend.channel.seed", 0.0, 0.0, 2 ** 31 - 1, kind="int", doc="seed of the random order"),
    ]
    specs += [ParamSpec(f"blend.model.{k}", 0.0, lo, hi, smoothing=glide,
                        doc=f"weight of model {chr(ord('A') + k)} on every layer (A + t(B - A) + w(M - A))")
              for k in range(2, num_models)]
    return specs


def defaults(num_layers: int) -> dict[str, float]:
    """Every ``blend.*`` value at its default (model A, no curve, every layer on the curve)."""
    return {spec.name: spec.default for spec in params(num_layers) if spec.kind != "trigger"}


def logistic(z: float) -> float:
    """The logistic function without overflow for large ``|z|``."""
    return 0.5 * (1.0 + math.tanh(0.5 * z))


def curve(num_layers: int, amount: float, center: float, width: float, direction: str = "up") -> list[float]:
    """The crossover curve's value at each layer index (see the module docstring)."""
    if direction not in DIRECTIONS:
        raise MaskError(f"curve direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    pivot = center * max(num_layers - 1, 0)
    sign = 1.0 if direction == "up" else -1.0
    out = []
    for i in range(num_layers):
        d = sign * (i - pivot)
        if width < HARD_WIDTH:
            s = 1.0 if d > 0 else 0.0 if d < 0 else 0.5
        else:
            s = logistic(d / width)
        out.append(amount * s)
    return out


def choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """A choice parameter's value as its name (from the name itself or its index, clamped)."""
    if isinstance(value, str):
        if value not in choices:
            raise MaskError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value
    index = int(round(finite(name, value)))
    return choices[min(max(index, 0), len(choices) - 1)]


def curve_of(values: Mapping[str, object], num_layers: int) -> list[float]:
    """The curve that the ``blend.curve.*`` entries of ``values`` describe (defaults for the rest)."""
    def get(name: str, default: float) -> float:
        return finite(name, values.get(name, default))

    return curve(num_layers, get("blend.curve.amount", 0.0), get("blend.curve.center", 0.5),
                 get("blend.curve.width", 1.0),
                 choice("blend.curve.direction", values.get("blend.curve.direction", 0.0), DIRECTIONS))


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def compose(values: Mapping[str, object], num_layers: int,
            resolutions: Mapping[int, float] | None = None, num_models: int = 2) -> BlendState:
    """Compose the ``blend.*`` values of one snapshot into a :class:`BlendState`.

    Missing names take their defaults, except that a layer whose fader is given without its hold is
    held (a dict that says ``blend.layer.3 = 0.7`` means layer 3 at 0.7; a registry snapshot always
    has both). NaN/inf raise :class:`MaskError` (the registry never lets them through).
    ``resolutions`` adds per-block overrides (the mask syntax ``16:1``).
    """
    def get(name: str, default: float) -> float:
        return finite(name, values.get(name, default))

    lo = get("blend.safety.min", SAFETY_DEFAULT[0])
    hi = get("blend.safety.max", SAFETY_DEFAULT[1])
    if lo > hi:
        lo, hi = hi, lo
    c = curve_of(values, num_layers)
    mode = choice("blend.layer.mode", values.get("blend.layer.mode", 0.0), LAYER_MODES)
    fader_names, hold_names = layer_names(num_layers)
    faders = tuple(get(f, 0.0) for f in fader_names)
    holds = tuple(_clamp(get(h, 1.0 if f in values else 0.0), 0.0, 1.0) for f, h in zip(fader_names, hold_names))
    if mode == "offset":
        raw = [c_i + f_i for c_i, f_i in zip(c, faders)]
    else:
        raw = [c_i + h_i * (f_i - c_i) for c_i, f_i, h_i in zip(c, faders, holds)]
    layers = tuple(_clamp(t, lo, hi) for t in raw)
    kinds = []
    for kind in BLEND_KINDS:
        amount = _clamp(get(f"blend.kind.{kind}.amount", 0.0), 0.0, 1.0)
        if amount != 0.0:
            kinds.append((kind, _clamp(get(f"blend.kind.{kind}", 0.0), lo, hi), amount))
    res = tuple(sorted((int(r), _clamp(finite(f"resolution {r}", t), lo, hi))
                       for r, t in (resolutions or {}).items()))
    models = tuple(_clamp(get(f"blend.model.{k}", 0.0), lo, hi) for k in range(2, num_models))
    channels = (_clamp(get("blend.channel.fraction", 1.0), 0.0, 1.0),
                choice("blend.channel.order", values.get("blend.channel.order", 0.0), CHANNEL_ORDERS),
                int(get("blend.channel.seed", 0.0)))
    return BlendState(layers, _clamp(get("blend.mapping", 0.0), lo, hi), tuple(kinds), res, (lo, hi), models,
                      channels, faders, holds, mode)


# ------------------------------------------------------------------------------- handing layers back
def release_values(values: Mapping[str, object], num_layers: int) -> dict[str, float]:
    """What ``blend.release`` writes: every hold to 0 and every fader to the curve's value."""
    curve_now = curve_of(values, num_layers)
    out = {hold(i): 0.0 for i in range(num_layers)}
    out.update({fader(i): curve_now[i] for i in range(num_layers)})
    return out


def panic_values(num_layers: int) -> dict[str, float]:
    """The reset values for the panic control: model A everywhere, no curve, no overrides, every layer
    back on the curve. ``blend.layer.mode`` stays: it is how the faders work, not a blend."""
    out = defaults(num_layers)
    del out["blend.layer.mode"]
    return out


# ------------------------------------------------------------------------------- EZ presets
def nominal_resolutions(layers: Sequence[object]) -> list[int]:
    """Nominal layer resolutions from a LayerTable, a list of LayerEntry or a list of ints."""
    return [int(getattr(entry, "nominal", getattr(entry, "resolution", entry)))  # type: ignore[call-overload]
            for entry in layers]


def _sizes(layers: Sequence[object]) -> list[int]:
    return [int(getattr(entry, "resolution", entry)) for entry in layers]  # type: ignore[call-overload]


def layers_at(layers: Sequence[object], resolution: int) -> list[int]:
    """Indices of the layers at ``resolution``: nominal (``32`` on StyleGAN3 is its 52 px layers), or
    else the size itself (``52``)."""
    for res in (nominal_resolutions(layers), _sizes(layers)):
        found = [i for i, r in enumerate(res) if r == resolution]
        if found:
            return found
    return []


def describe_resolutions(layers: Sequence[object]) -> str:
    """``4, 8, 16, ...``: the nominal resolutions of a table, for messages."""
    return ", ".join(map(str, sorted(set(nominal_resolutions(layers)))))


def _with_layers(num_layers: int, layer_t: Sequence[float], mapping: float = 0.0) -> dict[str, float]:
    out = defaults(num_layers)
    for i, t in enumerate(layer_t):
        out[fader(i)] = finite(f"layer {i}", t)
        out[hold(i)] = 1.0
    out["blend.mapping"] = finite("mapping", mapping)
    return out


def interpolate(num_layers: int, fraction: float = 0.5) -> dict[str, float]:
    """Every layer and the mapping at ``fraction`` (0.5 = the classic 50 % network interpolation)."""
    f = finite("interpolate fraction", fraction)
    return _with_layers(num_layers, [f] * num_layers, mapping=f)


def crossover(layers: Sequence[object], resolution: int, width: float = 0.0) -> dict[str, float]:
    """A from the layers below ``resolution``, B from ``resolution`` up (mapping from A).

    ``layers``: a LayerTable (or the per-layer resolutions). ``width`` softens the swap (in layers).
    """
    found = layers_at(layers, resolution)
    if not found or found[0] == 0:
        raise MaskError(f"crossover@{resolution}: pick a layer resolution above the first "
                        f"({describe_resolutions(layers)})")
    n = len(layers)
    out = defaults(n)
    out["blend.curve.amount"] = 1.0
    out["blend.curve.center"] = (found[0] - 0.5) / max(n - 1, 1)
    out["blend.curve.width"] = max(finite("crossover width", width), 0.0)
    out["blend.curve.direction"] = 0.0
    return out


def band(layers: Sequence[object], name: str) -> dict[str, float]:
    """B in the layers of band ``name`` (:data:`BANDS`: coarse, medium, fine), A elsewhere."""
    lo, hi = BANDS[name]
    res = nominal_resolutions(layers)
    inside = [1.0 if lo <= r <= hi else 0.0 for r in res]
    if not any(inside):
        raise MaskError(f"{name}: this model has no layers at {_band_text(lo, hi)} "
                        f"(its layers: {describe_resolutions(layers)} px)")
    return _with_layers(len(res), inside)


def _band_text(lo: int, hi: int) -> str:
    return f"{hi} px or less" if lo == 0 else f"{lo} px or more" if hi >= 1 << 30 else f"{lo}-{hi} px"


def coarse(layers: Sequence[object]) -> dict[str, float]:
    """B in the coarse layers (resolution <= 8: pose, face shape), A elsewhere."""
    return band(layers, "coarse")


def medium(layers: Sequence[object]) -> dict[str, float]:
    """B in the medium layers (16..32: features, hair style), A elsewhere."""
    return band(layers, "medium")


def fine(layers: Sequence[object]) -> dict[str, float]:
    """B in the fine layers (>= 64: colour scheme, texture), A elsewhere."""
    return band(layers, "fine")


def ramp_up(num_layers: int) -> dict[str, float]:
    """t rising linearly from 0 at the first layer to 1 at the last."""
    n = max(num_layers - 1, 1)
    return _with_layers(num_layers, [i / n for i in range(num_layers)])


def ramp_down(num_layers: int) -> dict[str, float]:
    """t falling linearly from 1 at the first layer to 0 at the last."""
    n = max(num_layers - 1, 1)
    return _with_layers(num_layers, [1.0 - i / n for i in range(num_layers)])


def inverse(values: Mapping[str, object], num_layers: int) -> dict[str, float]:
    """The same blend with A and B swapped: every effective t becomes ``1 - t`` (curve folded in)."""
    state = compose(values, num_layers)
    out = _with_layers(num_layers, [1.0 - t for t in state.layers], mapping=1.0 - state.mapping)
    for kind, value, amount in state.kinds:
        out[f"blend.kind.{kind}"] = 1.0 - value
        out[f"blend.kind.{kind}.amount"] = amount
    out["blend.safety.min"], out["blend.safety.max"] = state.safety
    return out
