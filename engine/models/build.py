"""``build_generator``: constructor kwargs + state dict -> a ready generator (eval mode, no grads).

Both kwarg layouts are accepted:

- StyleGAN2-ADA nests the synthesis arguments: ``{z_dim, ..., mapping_kwargs: {...},
  synthesis_kwargs: {channel_base, channel_max, num_fp16_res, conv_clamp, architecture, ...}}``;
- StyleGAN3 (and the StyleGAN3 repository's StyleGAN2 class) puts them at the top level.

Both become the *flat* layout (synthesis arguments at the top level, ``mapping_kwargs`` kept nested),
which is what ``G.init_kwargs`` holds and what the native format stores.

The family comes from the state-dict keys (``synthesis.b4.const`` -> StyleGAN2, ``synthesis.input.*``
-> StyleGAN3); without a state dict, from the kwargs (StyleGAN3-only arguments such as
``magnitude_ema_beta``, which every StyleGAN3 training run records, select StyleGAN3).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from engine.errors import ModelLoadError
from engine.models.generator import default_impl

FAMILIES = ("stylegan2", "stylegan3")
# Constructor arguments only StyleGAN3 has (its train.py always records magnitude_ema_beta).
STYLEGAN3_ONLY_KWARGS = frozenset({
    "magnitude_ema_beta", "use_radial_filters", "conv_kernel", "num_layers", "num_critical",
    "first_cutoff", "first_stopband", "last_stopband_rel", "margin_size", "output_scale",
    "filter_size", "lrelu_upsampling", "channels_last",
})
SHOWN_KEYS = 3


def _plain(value: Any) -> Any:
    """EasyDicts and other mappings as plain dicts, tuples as lists (JSON-friendly kwargs)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def flatten_kwargs(init_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a nested ``synthesis_kwargs`` into the top level; ``mapping_kwargs`` stays nested."""
    flat = _plain(init_kwargs)
    nested = flat.pop("synthesis_kwargs", None) or {}
    for key, value in nested.items():
        if key in flat and flat[key] != value:
            raise ModelLoadError(f"constructor kwarg {key!r} is given twice with different values "
                                 f"({flat[key]!r} and synthesis_kwargs {value!r}); keep one")
        flat[key] = value
    flat["mapping_kwargs"] = dict(flat.get("mapping_kwargs") or {})
    return flat


def detect_family(init_kwargs: Mapping[str, Any], state_dict: Mapping[str, Any] | None = None) -> str:
    """"stylegan2" or "stylegan3", from the state-dict keys when given, else from the kwargs."""
    if state_dict is not None:
        keys = set(state_dict)
        if any(key.startswith("synthesis.input.") for key in keys):
            return "stylegan3"
        if "synthesis.b4.const" in keys:
            return "stylegan2"
        first = ", ".join(sorted(keys)[:SHOWN_KEYS]) or "no keys"
        raise ModelLoadError(f"the state dict is neither StyleGAN2 (synthesis.b4.const) nor StyleGAN3 "
                             f"(synthesis.input.*); it starts with {first}")
    if "synthesis_kwargs" in init_kwargs:
        return "stylegan2"
    return "stylegan3" if STYLEGAN3_ONLY_KWARGS & set(init_kwargs) else "stylegan2"


def _generator_class(family: str) -> type[torch.nn.Module]:
    if family == "stylegan2":
        from engine.models.stylegan2 import StyleGAN2Generator
        return StyleGAN2Generator
    if family == "stylegan3":
        from engine.models.stylegan3 import StyleGAN3Generator
        return StyleGAN3Generator
    raise ModelLoadError(f"unknown generator family {family!r}; netblend knows {', '.join(FAMILIES)}")


def _check_kwargs(cls: type[torch.nn.Module], flat: dict[str, Any], family: str) -> None:
    """Refuse kwargs the constructor does not take (``EXTRA_KWARGS`` lists what its ``**kwargs`` take)."""
    signature = inspect.signature(cls)
    params = signature.parameters.values()
    extra = getattr(cls, "EXTRA_KWARGS", None)
    open_ended = extra is None and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    allowed = {p.name for p in params} | set(extra or ())
    unknown = sorted(set(flat) - allowed)
    if unknown and not open_ended:
        raise ModelLoadError(f"unknown {family} constructor kwargs: {', '.join(unknown)}; "
                             f"the model was made by code netblend does not support")
    try:
        signature.bind(**flat)
    except TypeError as exc:
        raise ModelLoadError(f"{family} constructor kwargs do not fit: {exc}") from exc


def _as_tensor(key: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic, float, int)):
        return torch.as_tensor(np.asarray(value))
    raise ModelLoadError(f"state dict entry {key!r} is a {type(value).__name__}, not an array or tensor")


def load_state_dict_strict(G: torch.nn.Module, state_dict: Mapping[str, Any]) -> None:
    """Copy ``state_dict`` into ``G``; ModelLoadError naming the first missing, unexpected or misshaped keys."""
    expected = G.state_dict()
    given = {key: _as_tensor(key, value) for key, value in state_dict.items()}
    missing = [key for key in expected if key not in given]
    unexpected = [key for key in given if key not in expected]
    misshaped = [f"{key} {tuple(given[key].shape)} != {tuple(expected[key].shape)}"
                 for key in expected if key in given and given[key].shape != expected[key].shape]
    problems = []
    if missing:
        problems.append(f"missing keys {', '.join(missing[:SHOWN_KEYS])}"
                        + (f" (+{len(missing) - SHOWN_KEYS} more)" if len(missing) > SHOWN_KEYS else ""))
    if unexpected:
        problems.append(f"unexpected keys {', '.join(unexpected[:SHOWN_KEYS])}"
                        + (f" (+{len(unexpected) - SHOWN_KEYS} more)" if len(unexpected) > SHOWN_KEYS else ""))
    if misshaped:
        problems.append(f"shape mismatch {'; '.join(misshaped[:SHOWN_KEYS])}")
    if problems:
        raise ModelLoadError("the weights do not fit the constructor kwargs: " + "; ".join(problems)
                             + " (wrong kwargs for these weights, or a file from an unsupported fork)")
    G.load_state_dict(given, strict=True)


def ready_for(G: Any, device: str | torch.device, impl: str | None = None) -> Any:
    """``G`` on ``device``, in eval mode, without gradients, using ``impl`` (None: the device's default,
    :func:`engine.models.generator.default_impl`). Every builder and loader finishes with this."""
    G = G.to(device).eval()
    G.requires_grad_(False)
    G.impl = impl if impl is not None else default_impl(device)
    return G


def build_generator(init_kwargs: Mapping[str, Any], state_dict: Mapping[str, Any] | None = None,
                    device: str | torch.device = "cpu", family: str | None = None,
                    impl: str | None = None) -> Any:
    """Build a generator from constructor kwargs (either layout) and load ``state_dict`` strictly.

    ``state_dict`` maps official keys to tensors or numpy arrays (None keeps the random init). The
    family is detected from the keys (or the kwargs) unless ``family`` names it. Returns the
    generator (a :class:`~engine.models.generator.Generator`) on ``device``, in eval mode, with
    ``requires_grad`` off, using the op implementation ``impl`` (None: the fastest one that passes
    parity on that device, ``default_impl(device)``); ``G.init_kwargs`` is flat.
    """
    family = family or detect_family(init_kwargs, state_dict)
    cls = _generator_class(family)
    flat = flatten_kwargs(init_kwargs)
    _check_kwargs(cls, flat, family)
    G = cls(**flat)
    if state_dict is not None:
        load_state_dict_strict(G, state_dict)
    return ready_for(G, device, impl)
