"""The CUDA filtered_lrelu kernel's own code, run on the CPU: ``filtered_lrelu.cu`` compiled by nvcc
with ``NETBLEND_HOST_EMULATION`` exposes ``filtered_lrelu_host``, which runs every thread block of the
kernel one after another with one thread each (the block body is ``__host__ __device__`` and
synchronises only on the device). Called through ctypes with the same parameters the torch binding
fills in, so a CPU test checks the kernel's index arithmetic, filters and rounding against 'ref'."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from stylegan_ops.cuda import SOURCE_DIR
from stylegan_ops.filtered_lrelu import output_shape
from stylegan_ops.filters import filter_factors

_int, _float, _ptr = ctypes.c_int, ctypes.c_float, ctypes.c_void_p


class FilteredLreluParams(ctypes.Structure):
    """Mirror of ``FilteredLreluParams`` in ``stylegan_ops/cuda/filtered_lrelu.h`` (same order)."""

    _fields_ = [("x", _ptr), ("bias", _ptr), ("up_cols", _ptr), ("up_rows", _ptr), ("down_cols", _ptr),
                ("down_rows", _ptr), ("out", _ptr), ("x_stride", ctypes.c_int64 * 4),
                ("out_stride", ctypes.c_int64 * 4)] + [
        (name, _int) for name in ("n", "c", "h", "w", "out_h", "out_w", "ranks_up", "ranks_down", "fu_h", "fu_w",
                                  "fd_h", "fd_w", "up", "down", "pad_x", "pad_y")] + [
        (name, _float) for name in ("up_gain", "gain", "slope", "clamp")] + [
        (name, _int) for name in ("has_clamp", "flip", "half")]


def nvcc() -> str | None:
    return shutil.which("nvcc")


def build_host_library(folder: Path | None = None) -> ctypes.CDLL:
    """Compile the kernel source with host emulation (seconds; cached by source hash in ``folder``)."""
    source = SOURCE_DIR / "filtered_lrelu.cu"
    digest = hashlib.sha256(source.read_bytes() + (SOURCE_DIR / "filtered_lrelu.h").read_bytes()).hexdigest()[:16]
    folder = folder or Path(os.environ.get("NETBLEND_CACHE") or tempfile.gettempdir()) / "cuda-emulation"
    folder.mkdir(parents=True, exist_ok=True)
    lib = folder / f"filtered_lrelu_host_{digest}.so"
    if not lib.exists():
        tmp = lib.with_suffix(".tmp.so")
        subprocess.run([nvcc() or "nvcc", "-std=c++17", "-O2", "-shared", "-Xcompiler", "-fPIC", "-arch=sm_90",
                        "-DNETBLEND_HOST_EMULATION", str(source), "-o", str(tmp)], check=True, capture_output=True)
        tmp.replace(lib)
    dll = ctypes.CDLL(str(lib))
    dll.filtered_lrelu_host.argtypes = [ctypes.POINTER(FilteredLreluParams)]
    dll.filtered_lrelu_host.restype = _int
    return dll


def filtered_lrelu_emulated(dll: ctypes.CDLL, x: torch.Tensor, fu, fd, b, up: int, down: int,
                            pad: tuple[int, int, int, int], gain: float, slope: float, clamp: float | None,
                            flip: bool) -> torch.Tensor:
    """What ``impl='cuda'`` computes for these arguments, by the kernel's code on the CPU."""
    out = torch.empty(output_shape(tuple(x.shape), fu, fd, up, down, pad), dtype=x.dtype)
    (uc, ur), (dc, dr) = filter_factors(fu, x.device), filter_factors(fd, x.device)
    bias = None if b is None else b.to(torch.float32).contiguous()
    p = FilteredLreluParams(
        x=x.data_ptr(), bias=None if bias is None else bias.data_ptr(), up_cols=uc.data_ptr(), up_rows=ur.data_ptr(),
        down_cols=dc.data_ptr(), down_rows=dr.data_ptr(), out=out.data_ptr(),
        x_stride=(ctypes.c_int64 * 4)(*x.stride()), out_stride=(ctypes.c_int64 * 4)(*out.stride()),
        n=x.shape[0], c=x.shape[1], h=x.shape[2], w=x.shape[3], out_h=out.shape[2], out_w=out.shape[3],
        ranks_up=uc.shape[0], ranks_down=dc.shape[0], fu_h=uc.shape[1], fu_w=ur.shape[1], fd_h=dc.shape[1],
        fd_w=dr.shape[1], up=up, down=down, pad_x=pad[0], pad_y=pad[2], up_gain=float(up * up), gain=gain,
        slope=slope, clamp=0.0 if clamp is None else clamp, has_clamp=clamp is not None, flip=flip,
        half=x.dtype == torch.float16)
    assert dll.filtered_lrelu_host(ctypes.byref(p)) == 0
    return out
