"""``impl='cuda'``: netblend's own CUDA C++ kernel for filtered_lrelu, built on request.

``build()`` compiles ``filtered_lrelu.cu`` and ``binding.cpp`` with ``torch.utils.cpp_extension`` and
ninja (minutes the first time, then loaded from the build folder in about a second) and registers the
op ``torch.ops.netblend_cuda.filtered_lrelu``. Nothing builds on import or during a call: warm-up calls
``build()``; a call before it is a one-line error. The other ops have no own CUDA kernel ('cuda' runs
their 'fast' formulation on cuDNN).

The kernel is wrapped as the custom op ``stylegan_ops::filtered_lrelu_cuda`` so ``torch.compile`` sees
one node and FakeTensorMode runs its shape function without the library.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ..backends import OpUnavailableError, require_cuda
from ..filters import filter_factors

SOURCE_DIR = Path(__file__).resolve().parent
SOURCES = (SOURCE_DIR / "filtered_lrelu.cu", SOURCE_DIR / "binding.cpp")
EXTENSION_NAME = "netblend_cuda_ops"


def is_built() -> bool:
    """Whether the extension is loaded in this process."""
    return hasattr(torch.ops, "netblend_cuda") and hasattr(torch.ops.netblend_cuda, "filtered_lrelu")


def _wheel_include_paths() -> list[str]:
    """Header folders of the CUDA wheels next to torch (e.g. nvidia/cu13/include), which complete a
    toolkit installed without some libraries' headers."""
    spec = importlib.util.find_spec("nvidia")
    paths = []
    for root in (spec.submodule_search_locations or []) if spec else []:
        paths += [str(p) for p in sorted(Path(root).glob("cu*/include")) if p.is_dir()]
    return paths


def build(verbose: bool = False, extra_include_paths: Sequence[str] = ()) -> float:
    """Compile (or load the already compiled) extension; returns the seconds it took.

    Needs a CUDA build of PyTorch, nvcc (``CUDA_HOME``) and ninja; ``TORCH_CUDA_ARCH_LIST`` picks the
    GPU architectures (default: the visible GPU's). Builds into ``$NETBLEND_CACHE/torch_extensions``
    when set, else torch's own extensions folder.
    """
    if torch.version.cuda is None:
        raise OpUnavailableError("impl='cuda' needs a CUDA build of PyTorch (this one is CPU-only); use impl='fast'")
    if is_built():
        return 0.0
    from torch.utils.cpp_extension import load

    build_dir = None
    if os.environ.get("NETBLEND_CACHE"):
        build_dir = Path(os.environ["NETBLEND_CACHE"]) / "torch_extensions" / EXTENSION_NAME
        build_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    load(name=EXTENSION_NAME, sources=[str(s) for s in SOURCES], extra_cflags=["-O3"],
         extra_cuda_cflags=["-O3", "-std=c++17"], extra_include_paths=[*extra_include_paths, *_wheel_include_paths()],
         build_directory=None if build_dir is None else str(build_dir), is_python_module=False, verbose=verbose)
    return time.perf_counter() - start


@torch.library.custom_op("stylegan_ops::filtered_lrelu_cuda", mutates_args=())
def _filtered_lrelu_op(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor | None,
                       up: int, down: int, pad: list[int], gain: float, slope: float, clamp: float | None,
                       flip_filter: bool, out_h: int, out_w: int) -> torch.Tensor:
    require_cuda(x.device)
    if not is_built():
        raise OpUnavailableError("impl='cuda' is not built in this process: call stylegan_ops.cuda.build() during "
                                 "warm-up (needs nvcc and ninja; minutes the first time)")
    out = torch.empty((x.shape[0], x.shape[1], out_h, out_w), dtype=x.dtype, device=x.device)
    (uc, ur), (dc, dr) = filter_factors(fu, x.device), filter_factors(fd, x.device)
    bias = None if b is None else b.to(torch.float32).contiguous()
    torch.ops.netblend_cuda.filtered_lrelu(x, bias, uc, ur, dc, dr, out, up, down, pad[0], pad[2], gain, slope, clamp,
                                           flip_filter)
    return out


@_filtered_lrelu_op.register_fake
def _(x, fu, fd, b, up, down, pad, gain, slope, clamp, flip_filter, out_h, out_w):
    return x.new_empty((x.shape[0], x.shape[1], out_h, out_w))


def filtered_lrelu_cuda(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor | None,
                        up: int, down: int, pad: tuple[int, int, int, int], gain: float, slope: float,
                        clamp: float | None, flip_filter: bool) -> torch.Tensor:
    """``filtered_lrelu`` (arguments checked by the entry point) as one fused CUDA kernel."""
    from ..filtered_lrelu import output_shape

    if x.dtype not in (torch.float32, torch.float16):
        raise ValueError(f"impl='cuda' filtered_lrelu takes float32 or float16, got {x.dtype}")
    if b is not None and (b.ndim != 1 or b.shape[0] != x.shape[1]):
        raise ValueError(f"bias of shape {tuple(b.shape)} does not match the {x.shape[1]} channels of x")
    _, _, out_h, out_w = output_shape(tuple(x.shape), fu, fd, up, down, pad)
    return _filtered_lrelu_op(x, fu, fd, b, up, down, list(pad), float(gain), float(slope),
                              None if clamp is None else float(clamp), flip_filter, out_h, out_w)
