"""Constructor kwargs read from a model file: copied with a budget, then checked before any module exists.

A training pickle's ``_init_kwargs`` (or a netblend header's ``init_kwargs``) is whatever the file says.
Before a generator is built from it:

- :func:`plain_kwargs` copies it into plain JSON-like values (dicts with string keys, lists, str, bool,
  int, float, None) with a node and depth budget (so it never meets Python's recursion limit), refusing
  shared containers: a 1 KB pickle whose lists share their children (``L[i+1] = [L[i], L[i]]``) describes
  2**n values, and a cycle describes infinitely many;
- :func:`check_kwargs` checks every argument the StyleGAN2/StyleGAN3 constructors take for type and
  range (``conv_clamp = "x"`` builds fine and fails on the first frame; ``w_dim = 0`` divides by zero);
- :func:`check_parameter_bound` refuses kwargs that describe a generator larger than any real one;
- :func:`check_kwargs_fit_weights` compares the sizes that decide how many modules get built
  (mapping layers, synthesis blocks or layers, ``w_dim``) with the file's tensors, so a 76 KB file that
  claims ``num_layers = 100000`` fails in milliseconds instead of building 100,000 layers.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from engine.errors import ModelLoadError
from engine.models.stylegan2 import ARCHITECTURES
from engine.models.stylegan3_layers import derive_layout
from stylegan_ops import ACTIVATIONS

MAX_NODES = 10_000            # values in one kwargs tree (official kwargs hold about 40)
MAX_DEPTH = 16                # nesting depth (official kwargs: 2)
MAX_STRING = 10_000           # characters in one string value
MAX_PARAMETERS = 2 ** 30      # values in a generator (the largest official ones hold about 0.1 G)
MAX_MARGIN = 64               # StyleGAN3 margin_size (official: 10)
ACTIVATION_NAMES = tuple(ACTIVATIONS)

Check = Callable[[Any], str | None]     # None when the value is fine, else what it should be


# ---- copying ----------------------------------------------------------------------------------------

def plain_kwargs(value: Any) -> dict:
    """A plain copy of kwargs read from a file; ModelLoadError (no file name) for anything else."""
    if not isinstance(value, Mapping):
        raise ModelLoadError(f"the constructor kwargs are {_kind(value)}, not a dict")
    counter = [0]
    return _copy(value, 0, counter, set(), "")


def _copy(value: Any, depth: int, counter: list[int], seen: set[int], where: str) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise ModelLoadError(f"the constructor kwargs hold more than {MAX_NODES:,} values (a crafted or "
                             f"corrupt file); a real StyleGAN model has a few dozen")
    if isinstance(value, np.generic) and not isinstance(value, (np.object_, np.void)):
        return _copy(value.item(), depth, counter, seen, where)     # numpy scalars as Python numbers
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ModelLoadError(f"constructor kwarg {where} is a string of {len(value):,} characters")
        return str(value)
    if not isinstance(value, (Mapping, list, tuple)):
        raise ModelLoadError(f"constructor kwarg {where} is {_kind(value)}, not a number, string, list "
                             f"or dict")
    if depth >= MAX_DEPTH:
        raise ModelLoadError(f"the constructor kwargs are nested more than {MAX_DEPTH} deep (at {where[:60]}); "
                             f"a real StyleGAN model nests them 2 deep")
    if len(value) and id(value) in seen:
        raise ModelLoadError(f"constructor kwarg {where} refers back to a list or dict already used "
                             f"(a cycle or shared reference, as in a crafted file)")
    seen.add(id(value))
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ModelLoadError(f"constructor kwarg {where or 'dict'} has the key {_show(key)}, not a name")
            out[str(key)] = _copy(item, depth + 1, counter, seen, f"{where}.{key}".lstrip(".")[:120])
        return out
    return [_copy(item, depth + 1, counter, seen, f"{where}[{i}]"[:120]) for i, item in enumerate(value)]


# ---- types and ranges -------------------------------------------------------------------------------

def _integer(lo: int, hi: int) -> Check:
    def check(v: Any) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
        return None if ok else f"an integer in [{lo}, {hi}]"
    return check


def _real(lo: float = -math.inf, hi: float = math.inf, positive: bool = False) -> Check:
    def check(v: Any) -> str | None:
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
              and lo <= v <= hi and (v > 0 or not positive))
        return None if ok else ("a finite number > 0" if positive else f"a finite number in [{lo}, {hi}]")
    return check


def _optional(inner: Check) -> Check:
    return lambda v: None if v is None else (None if inner(v) is None else f"None or {inner(v)}")


def _flag(v: Any) -> str | None:
    return None if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)) else "true or false"


def _choice(*names: str) -> Check:
    return lambda v: None if v in names and isinstance(v, str) else f"one of {', '.join(names)}"


def _filter_taps(v: Any) -> str | None:
    ok = (isinstance(v, list) and 1 <= len(v) <= 16 and all(_real()(t) is None for t in v)
          and sum(v) != 0)
    return None if ok else "a list of 1 to 16 finite filter taps with a non-zero sum"


def _power_of_two(lo: int, hi: int) -> Check:
    def check(v: Any) -> str | None:
        ok = _integer(lo, hi)(v) is None and v & (v - 1) == 0
        return None if ok else f"a power of two in [{lo}, {hi}]"
    return check


DIM = 1 << 16
COMMON: dict[str, Check] = {
    "z_dim": _integer(0, DIM), "c_dim": _integer(0, DIM), "w_dim": _integer(1, DIM),
    "img_channels": _integer(1, 16), "channel_base": _integer(1, 1 << 24), "channel_max": _integer(1, DIM),
    "num_fp16_res": _integer(0, 64), "conv_clamp": _optional(_real(positive=True)),
}
MAPPING: dict[str, Check] = {
    "num_layers": _integer(1, 64), "embed_features": _optional(_integer(1, DIM)),
    "layer_features": _optional(_integer(1, DIM)), "activation": _choice(*ACTIVATION_NAMES),
    "lr_multiplier": _real(positive=True), "w_avg_beta": _optional(_real()),
}
STYLEGAN2: dict[str, Check] = {
    "img_resolution": _power_of_two(4, 1 << 14), "architecture": _choice(*ARCHITECTURES),
    "resample_filter": _filter_taps, "kernel_size": _integer(1, 7), "use_noise": _flag,
    "activation": _choice(*ACTIVATION_NAMES), "fp16_channels_last": _flag,
    "fused_modconv_default": lambda v: None if isinstance(v, (bool, str)) else "true, false or a string",
}
STYLEGAN3: dict[str, Check] = {
    "img_resolution": _integer(4, 1 << 14), "num_layers": _integer(1, 256),
    "num_critical": _integer(0, 256), "first_cutoff": _real(positive=True),
    "first_stopband": _real(positive=True), "last_stopband_rel": _real(positive=True),
    "margin_size": _integer(0, MAX_MARGIN), "conv_kernel": _integer(1, 7), "filter_size": _integer(1, 16),
    "lrelu_upsampling": _integer(1, 4), "use_radial_filters": _flag, "output_scale": _real(),
    "magnitude_ema_beta": _real(),
}
REQUIRED = ("z_dim", "c_dim", "w_dim", "img_resolution")


def check_kwargs(family: str, flat: Mapping[str, Any]) -> None:
    """Type and range of every known constructor argument in ``flat`` (synthesis kwargs at the top)."""
    missing = [name for name in REQUIRED if name not in flat]
    if missing:
        raise ModelLoadError(f"the constructor kwargs lack {', '.join(missing)}; the file does not "
                             f"describe a StyleGAN generator")
    specs = {**COMMON, **(STYLEGAN2 if family == "stylegan2" else STYLEGAN3)}
    _check_all(specs, flat, "")
    mapping = flat.get("mapping_kwargs")
    if not isinstance(mapping, Mapping):
        raise ModelLoadError(f"constructor kwarg mapping_kwargs is {_kind(mapping)}, not a dict")
    _check_all(MAPPING, mapping, "mapping_kwargs.")
    if flat["z_dim"] == 0 and flat["c_dim"] == 0:
        raise ModelLoadError("constructor kwargs z_dim = 0 and c_dim = 0 leave the generator no input; "
                             "the file is corrupt")
    if flat.get("channel_base", 32768) < flat["img_resolution"]:
        raise ModelLoadError(f"constructor kwarg channel_base = {flat['channel_base']} is smaller than "
                             f"img_resolution = {flat['img_resolution']}: the last layers would have no "
                             f"channels; the file is corrupt")
    if family == "stylegan3" and flat.get("num_critical", 2) >= flat.get("num_layers", 14):
        raise ModelLoadError("constructor kwarg num_critical is not smaller than num_layers; they do not "
                             "describe a StyleGAN3 generator")
    if family == "stylegan3":
        _check_stylegan3_layout(flat)


MAX_RESAMPLING = 16       # StyleGAN3 up/down factor of one layer (official: at most 4)
MAX_TAPS = 256            # StyleGAN3 filter taps (official: at most 24)


def _check_stylegan3_layout(flat: Mapping[str, Any]) -> None:
    """Derive the StyleGAN3 layout (cheap, no modules) and refuse one whose filters or feature maps
    would be far larger than any trained model's: such kwargs load in milliseconds and then take
    minutes and gigabytes per frame (cutoffs and stopbands set the factors; margins the sizes)."""
    names = set(inspect.signature(derive_layout).parameters) - {"img_resolution", "img_channels"}
    try:
        with np.errstate(all="ignore"):
            layout = derive_layout(flat["img_resolution"], flat["img_channels"],
                                   **{k: v for k, v in flat.items() if k in names})
    except (ArithmeticError, ValueError, TypeError) as e:
        raise ModelLoadError(f"the StyleGAN3 kwargs give no valid layer layout ({type(e).__name__}: "
                             f"{str(e)[:80]}); the file is corrupt") from e
    largest = flat["img_resolution"] + 2 * MAX_MARGIN
    for spec in layout.layers:
        if (max(spec.up_factor, spec.down_factor) > MAX_RESAMPLING or max(spec.up_taps, spec.down_taps) > MAX_TAPS
                or spec.out_size > largest or min(spec.in_channels, spec.out_channels, spec.out_size) < 1):
            raise ModelLoadError(f"the StyleGAN3 kwargs make layer {spec.name} resample by {spec.up_factor}/"
                                 f"{spec.down_factor} with {max(spec.up_taps, spec.down_taps)} taps at size "
                                 f"{spec.out_size}: far beyond any trained model (corrupt cutoff, stopband or "
                                 f"margin kwargs)")


def _check_all(specs: Mapping[str, Check], values: Mapping[str, Any], prefix: str) -> None:
    for name, check in specs.items():
        if name in values:
            wanted = check(values[name])
            if wanted is not None:
                raise ModelLoadError(f"constructor kwarg {prefix}{name} = {_show(values[name])} must be "
                                     f"{wanted}; the file is corrupt or was not written by StyleGAN")


# ---- size ---------------------------------------------------------------------------------------------

def parameter_bound(family: str, flat: Mapping[str, Any]) -> int:
    """An upper bound on the values (parameters and buffers) of the generator ``flat`` describes."""
    mapping = flat["mapping_kwargs"]
    z, c, w = flat["z_dim"], flat["c_dim"], flat["w_dim"]
    embed = (mapping.get("embed_features") or w) if c else 0
    width = max(z + embed, mapping.get("layer_features") or w, w)
    layers = mapping.get("num_layers", 8 if family == "stylegan2" else 2)
    total = layers * (width * width + width) + c * embed + embed + w
    if family == "stylegan2":
        channels = min(flat.get("channel_base", 32768) // 4, flat.get("channel_max", 512))
        res, kernel = flat["img_resolution"], flat.get("kernel_size", 3)
        per_weight = w * channels + 3 * channels + 1                 # affine, biases, noise strength
        per_conv = channels * channels * kernel * kernel + per_weight + res * res + 16
        blocks = res.bit_length() - 2                                # b4 .. b{res}
        return total + blocks * (3 * per_conv + 16 * channels + flat["img_channels"] * (channels + 1))
    channels = flat.get("channel_max", 512)
    kernel = flat.get("conv_kernel", 3)
    taps = (flat.get("filter_size", 6) * flat.get("lrelu_upsampling", 2) * 2) ** 2
    per_layer = channels * channels * kernel * kernel + w * channels + 3 * channels + 1 + 2 * taps
    extra = channels * channels + 3 * channels + 4 * w + 13 + flat["img_channels"] * (channels + w)
    return total + (flat.get("num_layers", 14) + 1) * per_layer + extra


def check_parameter_bound(family: str, flat: Mapping[str, Any]) -> None:
    """Refuse kwargs whose generator could hold more than ``MAX_PARAMETERS`` values."""
    bound = parameter_bound(family, flat)
    if bound > MAX_PARAMETERS:
        raise ModelLoadError(f"the constructor kwargs describe a generator of up to {bound:.3g} values, "
                             f"more than netblend loads ({MAX_PARAMETERS:.3g}); the file is corrupt or "
                             f"crafted")


def check_kwargs_fit_weights(family: str, flat: Mapping[str, Any], state_dict: Mapping[str, Any]) -> None:
    """Compare the kwargs that decide how many modules are built with the tensors in the file."""
    keys = list(state_dict)
    fc = _indices(keys, r"mapping\.fc(\d+)\.weight")
    layers = flat["mapping_kwargs"].get("num_layers", 8 if family == "stylegan2" else 2)
    if len(fc) != layers:
        raise _misfit(f"mapping_kwargs num_layers = {layers}", f"{len(fc)} mapping layers")
    w_avg = state_dict.get("mapping.w_avg")
    if w_avg is not None and len(w_avg.shape) == 1 and w_avg.shape[0] != flat["w_dim"]:
        raise _misfit(f"w_dim = {flat['w_dim']}", f"a mapping.w_avg of {w_avg.shape[0]} values")
    if family == "stylegan2":
        blocks = _indices(keys, r"synthesis\.b(\d+)\..*")
        res = flat["img_resolution"]
        if max(blocks, default=0) != res:
            raise _misfit(f"img_resolution = {res}", f"synthesis blocks up to b{max(blocks, default=0)}")
    else:
        found = _indices(keys, r"synthesis\.L(\d+)_\d+_\d+\..*")
        expected = flat.get("num_layers", 14) + 1
        if len(found) != expected:
            raise _misfit(f"num_layers = {expected - 1}", f"{len(found)} synthesis layers (L0 ...)")


def _indices(keys: list[str], pattern: str) -> set[int]:
    regex = re.compile(pattern)
    return {int(m.group(1)) for m in map(regex.fullmatch, keys) if m and len(m.group(1)) < 9}


def _misfit(claim: str, found: str) -> ModelLoadError:
    return ModelLoadError(f"the constructor kwargs say {claim} but the file holds {found}; the kwargs "
                          f"do not describe these weights (corrupt or crafted file)")


# ---- messages -----------------------------------------------------------------------------------------

def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a numpy array ({value.dtype}, shape {value.shape})"
    return "None" if value is None else f"a {type(value).__name__}"


def _show(value: Any) -> str:
    """A short, safe repr for a message (huge integers and long strings are summarised)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return _kind(value)
