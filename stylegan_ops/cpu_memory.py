"""Keep freed CPU memory in the process so every frame's tensors reuse it instead of page-faulting.

A StyleGAN frame allocates and frees the same large activations every frame. glibc's malloc serves
blocks above its mmap threshold (128 KiB, raised dynamically up to 32 MiB) with fresh ``mmap`` pages
and trims the heap top back to the kernel, so each frame page-faults its activations in again, at
~1.3 us per 4 KiB page on the 2-core test machine: ~8,000 faults (~10 ms) per StyleGAN2-256 frame at
channel_base 8192, ~53,000 (~70 ms) at the official channels, whose activations pass 32 MiB. Serving
every block from the heap (no ``mmap``) and trimming only above ``keep_bytes`` leaves 0 faults per frame
in steady state (official StyleGAN2-256: 514 -> 416-447 ms per frame).

Process-wide and harmless elsewhere: a no-op (returning False) where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's cap on 64-bit systems
_applied = False


def retain_freed_memory(keep_bytes: int = 2 << 30) -> bool:
    """Serve every block from the heap (no ``mmap``) and keep up to ``keep_bytes`` of it freed; True if applied."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1
    ok = mallopt(_M_MMAP_MAX, 0) == 1 and ok  # also blocks above the 32 MiB threshold cap
    ok = mallopt(_M_TRIM_THRESHOLD, min(keep_bytes, 2**31 - 1)) == 1 and ok
    _applied = ok
    return ok
