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
2. **per-layer**: ``t_i = c_i + blend.layer.<i>``. The fader is an offset on top of the curve; with
   the curve amount at 0 (the default) the faders are the per-layer values themselves.
3. **resolution** overrides (``set_blend(resolutions=...)`` and the ``4:0,16:1`` mask syntax) replace
   ``t`` for every key of that synthesis block (StyleGAN2 ``synthesis.b{R}.*``; StyleGAN3 the layers
   of that size).
4. **kind** overrides: ``t = lerp(t, blend.kind.<kind>, blend.kind.<kind>.amount)`` for keys of that
   kind (``conv``, ``bias``, ``affine``, ``torgb``, ``noise``, ``const``, ``stat``).
5. **mapping**: every ``mapping.*`` key, ``w_avg`` included, takes ``blend.mapping`` alone.
6. **safety**: every result is clamped to ``[blend.safety.min, blend.safety.max]``.
7. **channels**: within each synthesis layer only ``blend.channel.fraction`` of the output channels
   take the result, chosen by ``blend.channel.order`` (most or least changed by fine-tuning first, or
   a random order from ``blend.channel.seed``); the others stay model A (:mod:`engine.blend.channels`).

EZ presets (:func:`interpolate`, :func:`crossover`, :func:`coarse`, :func:`medium`, :func:`fine`,
:func:`ramp_up`, :func:`ramp_down`, :func:`inverse`) and :func:`panic_values` return complete
``{parameter name: value}`` dicts to write into the registry. The ``netblend blend --mask`` syntax
is parsed by :func:`engine.blend.spec.parse_mask`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..core.params import ParamSpec
from ..errors import NetblendError

BLEND_KINDS = ("conv", "bias", "affine", "torgb", "noise", "const", "stat")
DIRECTIONS = ("up", "down")
CHANNEL_ORDERS = ("most", "least", "random")    # = engine.blend.channels.ORDERS (kept torch-free here)
SAFETY_DEFAULT = (-2.0, 3.0)
SAFETY_LIMIT = (-10.0, 11.0)       # the widest safety range a performer can dial in
HARD_WIDTH = 1e-3                  # curve widths below this are a hard step
COARSE_MAX, FINE_MIN = 8, 64       # coarse: resolutions <= 8; medium: 16..32; fine: >= 64


class MaskError(NetblendError, ValueError):
    """A blend value or mask that cannot be used (NaN/inf, unknown layer, bad preset argument)."""


@dataclass(frozen=True)
class BlendState:
    """One frame's blend: what :meth:`BlendedGenerator.apply` needs, already clamped."""

    layers: tuple[float, ...]                          # per-layer t (curve + fader), clamped
    mapping: float = 0.0                               # t of every mapping key (w_avg included)
    kinds: tuple[tuple[str, float, float], ...] = ()   # (kind, value, amount) with amount != 0
    resolutions: tuple[tuple[int, float], ...] = ()    # (block resolution, t) overrides
    safety: tuple[float, float] = SAFETY_DEFAULT       # (lo, hi) applied after every override
    models: tuple[float, ...] = ()                     # weights of models C, D, ... on every synthesis layer
    channels: tuple[float, str, int] = (1.0, "most", 0)  # (fraction, order, seed) of channel-wise blending


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
    specs = [ParamSpec(f"blend.layer.{i}", 0.0, lo, hi, smoothing=0.05,
                       doc=f"layer {i}: offset on top of the curve (0 = A, 1 = B)")
             for i in range(num_layers)]
    specs += [
        ParamSpec("blend.curve.amount", 0.0, lo, hi, smoothing=0.05, doc="height of the crossover curve"),
        ParamSpec("blend.curve.center", 0.5, 0.0, 1.0, smoothing=0.05,
                  doc="crossover position over the layers (0 = first, 1 = last)"),
        ParamSpec("blend.curve.width", 1.0, 0.0, 64.0, smoothing=0.05,
                  doc="crossover softness in layers (0 = hard layer swap)"),
        ParamSpec("blend.curve.direction", 0.0, kind="choice", choices=DIRECTIONS,
                  doc="up: A below the center, B above; down: the mirror"),
        ParamSpec("blend.mapping", 0.0, lo, hi, smoothing=0.05, doc="mapping network and w_avg (0 = A)"),
    ]
    for kind in BLEND_KINDS:
        specs.append(ParamSpec(f"blend.kind.{kind}", 0.0, lo, hi, smoothing=0.05,
                               doc=f"t for every {kind} parameter (weighted by .amount)"))
        specs.append(ParamSpec(f"blend.kind.{kind}.amount", 0.0, 0.0, 1.0, smoothing=0.05,
                               doc=f"how much blend.kind.{kind} overrides the layer values"))
    specs += [
        ParamSpec("blend.safety.min", SAFETY_DEFAULT[0], lo, 0.0, doc="lowest t allowed (overblend)"),
        ParamSpec("blend.safety.max", SAFETY_DEFAULT[1], 1.0, hi, doc="highest t allowed (overblend)"),
        ParamSpec("blend.panic", 0.0, kind="trigger", doc="back to model A at once"),
        ParamSpec("blend.channel.fraction", 1.0, 0.0, 1.0, smoothing=0.05,
                  doc="fraction of each layer's output channels that blend (1 = all, 0 = model A)"),
        ParamSpec("blend.channel.order", 0.0, kind="choice", choices=CHANNEL_ORDERS,
                  doc="which channels blend first: most / least changed by fine-tuning, or random"),
        ParamSpec("blend.channel.seed", 0.0, 0.0, 2 ** 31 - 1, kind="int", doc="seed of the random order"),
    ]
    specs += [ParamSpec(f"blend.model.{k}", 0.0, lo, hi, smoothing=0.05,
                        doc=f"weight of model {chr(ord('A') + k)} on every layer (A + t(B - A) + w(M - A))")
              for k in range(2, num_models)]
    return specs


def defaults(num_layers: int) -> dict[str, float]:
    """Every ``blend.*`` value at its default (model A, no curve, no overrides)."""
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


def _direction(value: object) -> str:
    if isinstance(value, str):
        return value
    index = int(round(finite("blend.curve.direction", value)))
    return DIRECTIONS[min(max(index, 0), len(DIRECTIONS) - 1)]


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if isinstance(value, str):
        if value not in choices:
            raise MaskError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value
    index = int(round(finite(name, value)))
    return choices[min(max(index, 0), len(choices) - 1)]


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def compose(values: Mapping[str, object], num_layers: int,
            resolutions: Mapping[int, float] | None = None, num_models: int = 2) -> BlendState:
    """Compose the ``blend.*`` values of one snapshot into a :class:`BlendState`.

    Missing names take their defaults; NaN/inf raise :class:`MaskError` (the registry never lets
    them through). ``resolutions`` adds per-block overrides (the mask syntax ``16:1``).
    """
    def get(name: str, default: float) -> float:
        return finite(name, values.get(name, default))

    lo = get("blend.safety.min", SAFETY_DEFAULT[0])
    hi = get("blend.safety.max", SAFETY_DEFAULT[1])
    if lo > hi:
        lo, hi = hi, lo
    c = curve(num_layers, get("blend.curve.amount", 0.0), get("blend.curve.center", 0.5),
              get("blend.curve.width", 1.0), _direction(values.get("blend.curve.direction", 0.0)))
    layers = tuple(_clamp(c[i] + get(f"blend.layer.{i}", 0.0), lo, hi) for i in range(num_layers))
    kinds = []
    for kind in BLEND_KINDS:
        amount = _clamp(get(f"blend.kind.{kind}.amount", 0.0), 0.0, 1.0)
        if amount != 0.0:
            kinds.append((kind, _clamp(get(f"blend.kind.{kind}", 0.0), lo, hi), amount))
    res = tuple(sorted((int(r), _clamp(finite(f"resolution {r}", t), lo, hi))
                       for r, t in (resolutions or {}).items()))
    models = tuple(_clamp(get(f"blend.model.{k}", 0.0), lo, hi) for k in range(2, num_models))
    channels = (_clamp(get("blend.channel.fraction", 1.0), 0.0, 1.0),
                _choice("blend.channel.order", values.get("blend.channel.order", 0.0), CHANNEL_ORDERS),
                int(get("blend.channel.seed", 0.0)))
    return BlendState(layers, _clamp(get("blend.mapping", 0.0), lo, hi), tuple(kinds), res, (lo, hi), models,
                      channels)


# ------------------------------------------------------------------------------- EZ presets
def _resolutions(layers: Sequence[object]) -> list[int]:
    """Layer resolutions from a LayerTable, a list of LayerEntry or a list of ints."""
    return [int(getattr(entry, "resolution", entry)) for entry in layers]  # type: ignore[call-overload]


def _with_layers(num_layers: int, layer_t: Sequence[float], mapping: float = 0.0) -> dict[str, float]:
    out = defaults(num_layers)
    for i, t in enumerate(layer_t):
        out[f"blend.layer.{i}"] = finite(f"layer {i}", t)
    out["blend.mapping"] = finite("mapping", mapping)
    return out


def panic_values(num_layers: int) -> dict[str, float]:
    """The reset values for the panic control: model A everywhere, no curve, no overrides."""
    return defaults(num_layers)


def interpolate(num_layers: int, fraction: float = 0.5) -> dict[str, float]:
    """Every layer and the mapping at ``fraction`` (0.5 = the classic 50 % network interpolation)."""
    f = finite("interpolate fraction", fraction)
    return _with_layers(num_layers, [f] * num_layers, mapping=f)


def crossover(layers: Sequence[object], resolution: int, width: float = 0.0) -> dict[str, float]:
    """A from the layers below ``resolution``, B from ``resolution`` up (mapping from A).

    ``layers``: a LayerTable (or the per-layer resolutions). ``width`` softens the swap (in layers).
    """
    res = _resolutions(layers)
    first = next((i for i, r in enumerate(res) if r == resolution), None)
    if first is None or first == 0:
        raise MaskError(f"crossover@{resolution}: pick a layer resolution above the first "
                        f"({', '.join(map(str, sorted(set(res))))})")
    out = defaults(len(res))
    out["blend.curve.amount"] = 1.0
    out["blend.curve.center"] = (first - 0.5) / max(len(res) - 1, 1)
    out["blend.curve.width"] = max(finite("crossover width", width), 0.0)
    out["blend.curve.direction"] = 0.0
    return out


def _band(layers: Sequence[object], lo: int, hi: int) -> dict[str, float]:
    res = _resolutions(layers)
    return _with_layers(len(res), [1.0 if lo <= r <= hi else 0.0 for r in res])


def coarse(layers: Sequence[object]) -> dict[str, float]:
    """B in the coarse layers (resolution <= 8: pose, face shape), A elsewhere."""
    return _band(layers, 0, COARSE_MAX)


def medium(layers: Sequence[object]) -> dict[str, float]:
    """B in the medium layers (16..32: features, hair style), A elsewhere."""
    return _band(layers, COARSE_MAX + 1, FINE_MIN - 1)


def fine(layers: Sequence[object]) -> dict[str, float]:
    """B in the fine layers (>= 64: colour scheme, texture), A elsewhere."""
    return _band(layers, FINE_MIN, 1 << 30)


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
