"""Facts about a FIR filter tensor, decided once per filter and remembered, never per op call.

Whether a 2-D filter is the outer product of two 1-D ones (StyleGAN2's 4x4 ``resample_filter`` is),
and the sum of rank-1 terms the fused kernels apply it as, depend on the filter's *values*: reading
them costs a host sync on a GPU and a graph break under ``torch.compile``. So they are read the first
time a filter tensor is seen (normally during warm-up) and kept, keyed by the tensor object itself
(weakly, so a dropped model frees its entry) and checked against its version counter, which every
in-place write (``load_state_dict``, ``copy_``) bumps. A steady-state call only does a dictionary
lookup and compares two Python integers.

Where the values cannot be read without a sync or a graph break (while ``torch.compile`` traces, or
on a fake tensor), an unseen filter is treated as a general 2-D filter: still exact, only without the
separable shortcut. Warm the cache with one eager call (or ``remember_filter``) before compiling.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FilterFacts:
    """What a filter's values say, read once."""

    rank1: bool                 # a 2-D filter equal to outer(col, row) (1-D filters: True)
    cols: torch.Tensor          # [R, fh] float32 on the filter's device: f = sum_r outer(cols[r], rows[r])
    rows: torch.Tensor          # [R, fw]


# id(filter) -> (weak reference to it, its version when read, facts). A plain dict keyed by id, with
# the weak reference confirming identity, is what torch.compile traces without a graph break (it
# refuses to trace into WeakKeyDictionary/WeakIdKeyDictionary lookups); a dead filter's entry is
# removed by its weak reference's callback.
_FACTS: dict[int, tuple[weakref.ref, int, FilterFacts]] = {}

# Singular values below this fraction of the largest are dropped (float32 rounding of the taps is
# ~6e-8 of them), so the rank-R sum reproduces the filter to float32 precision; a filter whose second
# singular value is below _RANK1_TOLERANCE of the first is an outer product stored in float32.
_RANK_TOLERANCE = 1e-7
_RANK1_TOLERANCE = 1e-6


def _values_unreadable(f: torch.Tensor) -> bool:
    """True while tracing for torch.compile or for a fake/meta tensor (reading values would break)."""
    from torch._subclasses.fake_tensor import is_fake

    return torch.compiler.is_compiling() or is_fake(f) or f.device.type == "meta"


def _read_facts(f: torch.Tensor) -> FilterFacts:
    """Factor ``f`` on the host (float64 SVD): one device-to-host copy of a few dozen numbers."""
    host = f.detach().to("cpu", torch.float64)
    if host.ndim == 1:
        taps = host.to(torch.float32)[None]
        return FilterFacts(True, taps.to(f.device), taps.to(f.device))
    u, s, vh = torch.linalg.svd(host, full_matrices=False)
    top = float(s[0]) if s.numel() else 0.0
    if s.numel() < 2 or float(s[1]) <= _RANK1_TOLERANCE * top:
        keep = 1
    else:
        keep = int((s > _RANK_TOLERANCE * top).sum())
    cols = (u[:, :keep] * s[:keep]).t().to(torch.float32)  # [R, fh]
    rows = vh[:keep].to(torch.float32)  # [R, fw]
    return FilterFacts(keep == 1, cols.contiguous().to(f.device), rows.contiguous().to(f.device))


def _version(f: torch.Tensor) -> int:
    """``f``'s version counter; inference tensors have none (-1: written in place only inside
    inference mode, which a model's fixed filter buffers never are)."""
    return -1 if f.is_inference() else f._version


def _forget(key: int, ref: weakref.ref) -> None:
    entry = _FACTS.get(key)
    if entry is not None and entry[0] is ref:
        del _FACTS[key]


def _cached(f: torch.Tensor) -> FilterFacts | None:
    entry = _FACTS.get(id(f))
    if entry is None or entry[0]() is not f:
        return None
    # The version counter is not traceable; filters are fixed buffers, not written during a show.
    if torch.compiler.is_compiling() or entry[1] == _version(f):
        return entry[2]
    return None


def remember_filter(f: torch.Tensor) -> FilterFacts:
    """Read and keep the facts of filter ``f`` (1-D taps or a 2-D kernel); cheap once known."""
    facts = _cached(f)
    if facts is None:
        facts = _read_facts(f)
        key = id(f)
        _FACTS[key] = (weakref.ref(f, functools.partial(_forget, key)), _version(f), facts)
    return facts


def known_facts(f: torch.Tensor) -> FilterFacts | None:
    """The facts of ``f`` without any sync: read on first sight in eager mode; None where its values
    cannot be read without a sync or a graph break (compiling or fake) and it was not seen before."""
    facts = _cached(f)
    if facts is not None or _values_unreadable(f):
        return facts
    return remember_filter(f)


def is_rank1(f: torch.Tensor) -> bool:
    """Whether the 2-D filter ``f`` is an outer product (decided once per filter; see module doc)."""
    facts = known_facts(f)
    return facts is not None and facts.rank1


_ONES: dict[torch.device, torch.Tensor] = {}


def filter_factors(f: torch.Tensor | None, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(column taps [R, fh], row taps [R, fw]), float32 on ``device``, whose outer products sum to ``f``
    (None: the one-tap identity). For the fused kernels; reads ``f`` once (``remember_filter``)."""
    if f is None:
        if device not in _ONES:
            _ONES[device] = torch.ones(1, 1, dtype=torch.float32, device=device)
        return _ONES[device], _ONES[device]
    if f.ndim == 1:
        taps = f.to(device=device, dtype=torch.float32).reshape(1, -1).contiguous()
        return taps, taps
    facts = remember_filter(f)
    return facts.cols.to(device), facts.rows.to(device)
