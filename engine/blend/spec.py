"""The mask syntax of ``netblend blend --mask``: readable one-liners for a blend.

Items are separated by ``;`` and applied left to right:

===========================  ==================================================================
``interp=0.5``               every layer and the mapping at 0.5 (``interpolate=`` works too)
``crossover@32``             A below 32 px, B from 32 px up; ``crossover@32:width=1`` softens it
                             (width in layers), ``:amount=1.5`` overblends the B side
``coarse`` ``medium``        B in the coarse (<= 8 px), medium (16-32 px) or fine (>= 64 px)
``fine``                     layers, A elsewhere
``ramp_up`` ``ramp_down``    t rising (falling) linearly over the layers
``inverse``                  swap A and B in everything before it
``4:0,8:0,16:1``             t per synthesis block resolution (every key of block b16 at 1)
``L3=0.7``                   layer 3 (the layer table's index) at 0.7, whatever the curve says
``mapping=0``                the mapping network and ``w_avg`` (0 = A)
``torgb=1``                  a kind override: every ToRGB parameter at 1 (also conv, bias,
                             affine, noise, const, stat)
===========================  ==================================================================

A preset (``interp``, ``crossover``, ``coarse`` ...) resets the layer values before it; ``L3=``,
``mapping=``, kinds and resolutions refine what came before.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import masks
from .masks import BLEND_KINDS, BlendState, MaskError, compose, curve, finite

_PRESETS = {"coarse": masks.coarse, "medium": masks.medium, "fine": masks.fine}
_RAMPS = {"ramp_up": masks.ramp_up, "ramp_down": masks.ramp_down}
HELP = "items joined by ';': interp=0.5, crossover@32:width=1, coarse, 4:0,16:1, L3=0.7, mapping=0, torgb=1"


def _number(item: str, text: str) -> float:
    try:
        return finite(item, text)
    except MaskError:
        raise MaskError(f"mask item {item!r}: {text!r} is not a finite number ({HELP})") from None


def _crossover(item: str, layers: Sequence[object]) -> dict[str, float]:
    head, *options = item.split(":")
    resolution = head.split("@", 1)[1]
    if not resolution.isdigit():
        raise MaskError(f"mask item {item!r}: expected crossover@RESOLUTION, e.g. crossover@32:width=1")
    kw = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or name not in ("width", "amount"):
            raise MaskError(f"mask item {item!r}: unknown option {option!r} (width=W, amount=A)")
        kw[name] = _number(item, value)
    out = masks.crossover(layers, int(resolution), kw.get("width", 0.0))
    out["blend.curve.amount"] = kw.get("amount", 1.0)
    return out


def _resolution_list(item: str, available: set[int], strict: bool = True) -> dict[int, float]:
    out = {}
    for pair in item.split(","):
        r, sep, t = pair.partition(":")
        if not sep or not r.strip().isdigit():
            raise MaskError(f"mask item {item!r}: expected RESOLUTION:T pairs like 4:0,8:0,16:1")
        if int(r) not in available and strict:
            raise MaskError(f"mask item {item!r}: no block at resolution {r} "
                            f"(this model has {', '.join(map(str, sorted(available)))})")
        out[int(r)] = _number(item, t)
    return out


def check_mask(text: str) -> None:
    """Raise :class:`MaskError` for a mask that no model could take (a typo, a bad number), checked
    against a generic 18-layer, 4-1024 px table, so the mistake shows before any model loads.
    What depends on the model (a layer index, a block resolution it lacks) is checked by
    :func:`parse_mask`."""
    from types import SimpleNamespace

    resolutions = [4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 512, 1024, 1024, 1024]
    parse_mask(text, [SimpleNamespace(resolution=r) for r in resolutions], strict=False)


def parse_mask(text: str, layers: Sequence[object], strict: bool = True) -> BlendState:  # noqa: C901
    """Parse a mask spec for a model whose layer table is ``layers``; :class:`MaskError` if bad."""
    num_layers = len(layers)
    available = {int(getattr(e, "resolution", e)) for e in layers}  # type: ignore[call-overload]
    values = masks.defaults(num_layers)
    resolutions: dict[int, float] = {}
    items = [part.strip() for part in text.split(";") if part.strip()]
    if not items:
        raise MaskError(f"empty mask; {HELP}")
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if item.lower().startswith("crossover@"):
            values = _crossover(item.lower(), layers)
        elif name in _PRESETS and not sep:
            values = _PRESETS[name](layers)
        elif name in _RAMPS and not sep:
            values = _RAMPS[name](num_layers)
        elif name == "inverse" and not sep:
            values = masks.inverse(values, num_layers)
            resolutions = {r: 1.0 - t for r, t in resolutions.items()}
        elif name in ("interp", "interpolate") and sep:
            values = masks.interpolate(num_layers, _number(item, value))
        elif name == "mapping" and sep:
            values["blend.mapping"] = _number(item, value)
        elif name in BLEND_KINDS and sep:
            values[f"blend.kind.{name}"] = _number(item, value)
            values[f"blend.kind.{name}.amount"] = 1.0
        elif name.startswith("l") and name[1:].isdigit() and sep:
            index = int(name[1:])
            if index >= num_layers:
                if not strict:
                    _number(item, value)
                    continue
                raise MaskError(f"mask item {item!r}: this model has layers L0..L{num_layers - 1}")
            direction = masks.DIRECTIONS[int(values["blend.curve.direction"])]
            on_curve = curve(num_layers, values["blend.curve.amount"], values["blend.curve.center"],
                             values["blend.curve.width"], direction)
            values[f"blend.layer.{index}"] = _number(item, value) - on_curve[index]
        elif ":" in item and not sep:
            resolutions.update(_resolution_list(item, available, strict))
        else:
            raise MaskError(f"mask item {item!r} is not understood; {HELP}")
    return compose(values, num_layers, resolutions)
