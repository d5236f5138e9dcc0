"""Whether an optional kernel backend (Triton, the CUDA extension) can run here, with a one-line
reason when it cannot. Nothing here imports the backend itself."""

from __future__ import annotations

import functools
import importlib.util
import os

import torch


class OpUnavailableError(RuntimeError):
    """An ``impl`` that cannot run on this machine or device; the message says why and what to use."""


@functools.cache
def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def triton_interpreting() -> bool:
    """True when ``TRITON_INTERPRET=1``: Triton kernels then run on CPU tensors (slowly), as CI does."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def require_triton(device: torch.device) -> None:
    """Raise OpUnavailableError unless Triton kernels can run on tensors on ``device``."""
    if not triton_installed():
        raise OpUnavailableError("impl='triton' needs the triton package (pip install triton); "
                                 "use impl='fast' without it")
    if device.type == "cuda" or (device.type == "cpu" and triton_interpreting()):
        return
    raise OpUnavailableError(f"impl='triton' runs on CUDA tensors, not {device.type}; use impl='fast' here "
                             "(or TRITON_INTERPRET=1 to run Triton's interpreter on the CPU)")


def require_cuda(device: torch.device) -> None:
    """Raise OpUnavailableError unless ``device`` is a CUDA device of a CUDA build of PyTorch."""
    if device.type != "cuda" or torch.version.cuda is None:
        where = "this PyTorch has no CUDA" if torch.version.cuda is None else f"got a {device.type} tensor"
        raise OpUnavailableError(f"impl='cuda' runs on CUDA tensors ({where}); use impl='fast' here")
