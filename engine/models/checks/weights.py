"""Tensors read from a model file, checked before a generator adopts them.

- :func:`check_tensor_layout`: plain strided CPU tensors only. A pickle (or a ``torch.save`` file) may
  describe a tensor of shape ``[2**30, 2**30]`` with stride 0 over one stored value, or a thousand
  tensors over the same bytes; either fits in a few bytes of file and becomes gigabytes at the first
  copy. No two elements of a tensor may share an address, and the tensors of one storage must not add
  up to more than the storage holds, so the tensors never hold more values than the file stored.
- :func:`check_finite`: NaN or infinite weights are refused with a count per tensor. One NaN in a
  convolution weight makes its demodulation factor NaN, and from there every pixel of the image, so
  a model with any non-finite weight cannot render a usable frame: refusing it at load is the only
  useful answer (a warning would let it reach the show and render NaN).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from engine.errors import ModelLoadError

MAX_TENSORS = 20_000          # tensors in one state dict (an official 1024 px StyleGAN2 has ~300)
MAX_DIM = 2 ** 31 - 1         # size of one dimension
SHOWN = 3                     # tensors named in a message


def check_tensor_layout(state_dict: Mapping[str, object]) -> None:
    """Every value a real-valued, strided CPU tensor that owns its bytes; ModelLoadError otherwise."""
    if len(state_dict) > MAX_TENSORS:
        raise ModelLoadError(f"the file holds {len(state_dict):,} tensors, more than any StyleGAN model "
                             f"({MAX_TENSORS:,} at most); it is corrupt or crafted")
    used: dict[int, int] = {}
    sizes: dict[int, int] = {}
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            raise ModelLoadError(f"{key} is a {type(tensor).__name__}, not a tensor")
        if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_complex() or tensor.is_meta:
            raise ModelLoadError(f"{key} is a {tensor.layout} {tensor.dtype} tensor; StyleGAN weights are "
                                 f"plain real-valued tensors")
        if any(size > MAX_DIM for size in tensor.shape):
            raise ModelLoadError(f"{key} has the shape {list(tensor.shape)}, larger than any real weight")
        if tensor.numel() == 0:
            continue
        if not _non_overlapping(tensor):
            raise ModelLoadError(f"{key} repeats its stored values (shape {list(tensor.shape)}, stride "
                                 f"{list(tensor.stride())}): a crafted tensor that would fill memory when copied")
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        used[ptr] = used.get(ptr, 0) + tensor.numel() * tensor.element_size()
        sizes[ptr] = storage.nbytes()
        if used[ptr] > sizes[ptr]:
            raise ModelLoadError(f"{key} shares its stored bytes with other tensors (overlapping "
                                 f"tensors, as in a crafted file)")


def _non_overlapping(tensor: torch.Tensor) -> bool:
    """Whether every element has its own address: with dimensions sorted by stride, each stride steps
    past everything the smaller ones span (a view with gaps, as ``torch.save`` keeps slices, is fine)."""
    span = 0                                             # last offset reachable by the smaller strides
    for stride, size in sorted((s, n) for s, n in zip(tensor.stride(), tensor.shape) if n != 1):
        if stride <= span:
            return False
        span += (size - 1) * stride
    return True


def non_finite_counts(state_dict: Mapping[str, torch.Tensor]) -> list[tuple[str, int, int, int]]:
    """``(key, NaN count, inf count, numel)`` of every floating-point tensor with non-finite values."""
    bad = []
    for key, tensor in state_dict.items():
        if not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        if _sum_is_finite(tensor):                              # one pass; exact count only when needed
            continue
        nan = int(torch.isnan(tensor).sum())
        inf = int(torch.isinf(tensor).sum())
        if nan or inf:                                          # else the sum overflowed: all finite
            bad.append((key, nan, inf, tensor.numel()))
    return bad


def _sum_is_finite(tensor: torch.Tensor) -> bool:
    """Whether the sum is finite: true for finite weights unless the sum overflows (then counted exactly).

    NumPy sums on one thread (torch's thread pool costs more than the sum for the small tensors of a
    model, and stalls on a busy machine); bfloat16, which NumPy lacks, is summed by torch.
    """
    if tensor.dtype == torch.bfloat16:
        return bool(torch.isfinite(tensor.sum(dtype=torch.float32)))
    values = tensor.detach().cpu().numpy()
    with np.errstate(invalid="ignore", over="ignore"):                  # inf - inf, overflow: both counted
        return bool(np.isfinite(values.sum(dtype=np.float32 if values.itemsize < 4 else None)))


def check_finite(state_dict: Mapping[str, torch.Tensor]) -> None:
    """Refuse weights holding NaN or infinity, naming the tensors and counting the bad values."""
    bad = non_finite_counts(state_dict)
    if not bad:
        return
    shown = "; ".join(f"{key}: {_count(nan, inf)} of {numel:,}" for key, nan, inf, numel in bad[:SHOWN])
    more = f"; +{len(bad) - SHOWN} more tensors" if len(bad) > SHOWN else ""
    total = sum(nan + inf for _, nan, inf, _ in bad)
    raise ModelLoadError(f"{total:,} weight value{'s are' if total > 1 else ' is'} NaN or infinite, in "
                         f"{len(bad)} tensor"
                         f"{'s' if len(bad) > 1 else ''} ({shown}{more}); such a model renders only NaN: "
                         f"use an earlier training snapshot or convert the original again")


def _count(nan: int, inf: int) -> str:
    parts = [f"{nan:,} NaN" if nan else "", f"{inf:,} inf" if inf else ""]
    return " and ".join(p for p in parts if p)
