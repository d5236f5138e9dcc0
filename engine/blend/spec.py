"""The mask syntax of ``netblend blend --mask`` and of a preset's ``mask`` key: readable one-liners.

Items are separated by ``;`` and applied left to right:

===========================  ==================================================================
``interp=0.5``               every layer and the mapping at 0.5 (``interpolate=`` works too)
``crossover@32``             A below 32 px, B from 32 px up; ``crossover@32:width=1`` softens it
                             (width in layers), ``:amount=1.5`` overblends the B side
``coarse`` ``medium``        B in the coarse (<= 8 px), medium (16-32 px) or fine (>= 64 px)
``fine``                     layers, A elsewhere
``ramp_up`` ``ramp_down``    t rising (falling) linearly over the layers
``inverse``                  swap A and B in everything before it
``4:0,8:0,16:1``             t per resolution (``netblend blend``: every key of block b16 at 1;
                             a preset: every layer at 16 px)
``L3=0.7``                   layer 3 (the layer table's index) at 0.7, whatever the curve says
``mapping=0``                the mapping network and ``w_avg`` (0 = A)
``torgb=1``                  a kind override: every ToRGB parameter at 1 (also conv, bias,
                             affine, noise, const, stat)
===========================  ==================================================================

A preset (``interp``, ``crossover``, ``coarse`` ...) resets the layer values before it; ``L3=``,
``mapping=``, kinds and resolutions refine what came before. Resolutions are nominal: StyleGAN3's
layers of 36, 52, 84 px are its 16, 32 and 64 px layers (their sizes work too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace

from . import masks
from .masks import BLEND_KINDS, BlendState, MaskError, compose, finite

# The EZ presets of the syntax, by name: each makes a complete blend for a layer table.
BANDS: dict[str, Callable[[Sequence[object]], dict[str, float]]] = {
    "coarse": masks.coarse, "medium": masks.medium, "fine": masks.fine}
RAMPS: dict[str, Callable[[int], dict[str, float]]] = {"ramp_up": masks.ramp_up, "ramp_down": masks.ramp_down}
INTERPOLATE = ("interp", "interpolate")
CROSSOVER_OPTIONS = ("width", "amount")
EZ_PRESETS = (INTERPOLATE[0], "crossover", *BANDS, *RAMPS, "inverse")
HELP = "items joined by ';': interp=0.5, crossover@32:width=1, coarse, 4:0,16:1, L3=0.7, mapping=0, torgb=1"
CHECK_RESOLUTION = 1024            # check_mask tries a mask on a StyleGAN2 of this size


def stylegan2_resolutions(resolution: int) -> list[int]:
    """The layer resolutions of a StyleGAN2 at ``resolution`` px (18 layers at 1024, 14 at 256)."""
    out, r = [4], 8
    while r <= resolution:
        out += [r, r]
        r *= 2
    return out + [out[-1]]


def _number(item: str, text: str) -> float:
    try:
        return finite(item, text)
    except MaskError:
        raise MaskError(f"mask item {item!r}: {text!r} is not a finite number ({HELP})") from None


def _crossover(item: str, layers: Sequence[object], strict: bool) -> dict[str, float] | None:
    head, *options = item.split(":")
    resolution = head.split("@", 1)[1]
    if not resolution.isdigit():
        raise MaskError(f"mask item {item!r}: expected crossover@RESOLUTION, e.g. crossover@32:width=1")
    kw = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or name not in CROSSOVER_OPTIONS:
            raise MaskError(f"mask item {item!r}: unknown option {option!r} (width=W, amount=A)")
        kw[name] = _number(item, value)
    if not strict and not masks.layers_at(layers, int(resolution)):
        return None                                   # the model decides (checked by mask_values)
    out = masks.crossover(layers, int(resolution), kw.get("width", 0.0))
    out["blend.curve.amount"] = kw.get("amount", 1.0)
    return out


def _resolution_list(item: str, layers: Sequence[object], strict: bool) -> dict[int, float]:
    out = {}
    for pair in item.split(","):
        r, sep, t = pair.partition(":")
        if not sep or not r.strip().isdigit():
            raise MaskError(f"mask item {item!r}: expected RESOLUTION:T pairs like 4:0,8:0,16:1")
        if not masks.layers_at(layers, int(r)) and strict:
            raise MaskError(f"mask item {item!r}: no layers at resolution {r} "
                            f"(this model has {masks.describe_resolutions(layers)})")
        out[int(r)] = _number(item, t)
    return out


def check_mask(text: str) -> None:
    """Raise :class:`MaskError` for a mask that no model could take (a typo, a bad number), checked
    against a generic 18-layer, 4-1024 px table, so the mistake shows before any model loads.
    What depends on the model (a layer index, a resolution it lacks) is checked by :func:`parse_mask`."""
    mask_values(text, [SimpleNamespace(resolution=r) for r in stylegan2_resolutions(CHECK_RESOLUTION)],
                strict=False)


def mask_values(text: str, layers: Sequence[object], strict: bool = True,
                per_layer: bool = True) -> tuple[dict[str, float], dict[int, float]]:
    """A mask spec as registry values for a model whose layer table is ``layers``, plus the
    resolution overrides left over: with ``per_layer`` (presets) ``16:1`` sets the faders of the
    16 px layers and nothing is left over; without (``netblend blend``) it overrides block b16.
    Raises :class:`MaskError` naming the bad item."""
    num_layers = len(layers)
    values = masks.defaults(num_layers)
    resolutions: dict[int, float] = {}
    items = [part.strip() for part in text.split(";") if part.strip()]
    if not items:
        raise MaskError(f"empty mask; {HELP}")
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if name == "inverse" and not sep:
            values = masks.inverse(values, num_layers)
            resolutions = {r: 1.0 - t for r, t in resolutions.items()}
            continue
        reset = _ez_values(item, name, sep, value, layers, strict)
        if reset is not None:
            values = reset or values
        elif ":" in item and not sep:
            pairs = _resolution_list(item, layers, strict)
            if per_layer:
                for r, t in pairs.items():
                    for i in masks.layers_at(layers, r):
                        values[masks.fader(i)], values[masks.hold(i)] = t, 1.0
            else:
                resolutions.update(pairs)
        elif not _refine(values, item, name, sep, value, num_layers, strict):
            raise MaskError(f"mask item {item!r} is not understood; {HELP}")
    return values, resolutions


def _ez_values(item: str, name: str, sep: str, value: str, layers: Sequence[object],
               strict: bool) -> dict[str, float] | None:
    """The values of an EZ preset item (crossover, bands, ramps, interpolation) that replace the mask
    so far; None when ``item`` is not one (an empty dict: a crossover the model cannot take)."""
    if item.lower().startswith("crossover@"):
        return _crossover(item.lower(), layers, strict) or {}
    if name in BANDS and not sep:
        return BANDS[name](layers)
    if name in RAMPS and not sep:
        return RAMPS[name](len(layers))
    if name in INTERPOLATE and sep:
        return masks.interpolate(len(layers), _number(item, value))
    return None


def _refine(values: dict[str, float], item: str, name: str, sep: str, value: str, num_layers: int,
            strict: bool) -> bool:
    """Apply a refining item (``mapping=``, a kind, ``L3=``) to ``values``; False when it is not one."""
    if not sep:
        return False
    if name == "mapping":
        values["blend.mapping"] = _number(item, value)
    elif name in BLEND_KINDS:
        values[f"blend.kind.{name}"] = _number(item, value)
        values[f"blend.kind.{name}.amount"] = 1.0
    elif name.startswith("l") and name[1:].isdigit():
        t = _number(item, value)
        index = int(name[1:])
        if index < num_layers:
            values[masks.fader(index)], values[masks.hold(index)] = t, 1.0
        elif strict:
            raise MaskError(f"mask item {item!r}: this model has layers L0..L{num_layers - 1}")
    else:
        return False
    return True


def parse_mask(text: str, layers: Sequence[object], strict: bool = True) -> BlendState:
    """Parse a mask spec for a model whose layer table is ``layers`` (``netblend blend``: resolution
    items override whole synthesis blocks); :class:`MaskError` if bad."""
    values, resolutions = mask_values(text, layers, strict, per_layer=False)
    return compose(values, len(layers), {_block(layers, r): t for r, t in resolutions.items()})


def _block(layers: Sequence[object], resolution: int) -> int:
    """The block size the generator knows a resolution by (StyleGAN3: 32 -> its 52 px layers)."""
    found = masks.layers_at(layers, resolution)
    return int(getattr(layers[found[0]], "resolution", resolution)) if found else resolution
