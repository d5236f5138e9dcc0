"""Getting a frame into the window's GL texture: from host memory, or straight from CUDA memory.

:class:`HostUpload` is ``glTexSubImage2D`` from the frame's host copy (the renderer's pinned,
asynchronous readback): it works everywhere. :class:`CudaGlUpload` copies a CUDA frame into the
texture on the GPU (CUDA-GL interop through the CUDA driver API, called with ctypes: no extra
package), skipping the device -> host -> device round trip. It needs the GL context to run on the
same NVIDIA GPU as the frame; when anything is missing (no CUDA driver, Mesa's GL, another GPU), the
window says why once and uses the host path. :func:`choose_upload` makes that decision.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Any

log = logging.getLogger("netblend")

GL_TEXTURE_2D = 0x0DE1
CU_GRAPHICS_REGISTER_FLAGS_WRITE_DISCARD = 2
CU_MEMORYTYPE_DEVICE = 2
CU_MEMORYTYPE_ARRAY = 3


class InteropUnavailable(RuntimeError):
    """CUDA-GL interop cannot run here; the message says why."""


class HostUpload:
    """``glTexSubImage2D`` from the frame's host pixels."""

    kind = "host copy"
    needs_host = True

    def __init__(self, texture_id: int, width: int, height: int):
        self.texture_id, self.width, self.height = texture_id, width, height

    def upload(self, frame) -> None:
        from pyglet import gl

        pixels = frame.host()
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture_id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, self.width, self.height, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE,
                           pixels.data_ptr())

    def close(self) -> None:
        """Nothing to release."""


class _Memcpy2D(ctypes.Structure):
    """CUDA_MEMCPY2D of the driver API."""

    _fields_ = [
        ("srcXInBytes", ctypes.c_size_t), ("srcY", ctypes.c_size_t), ("srcMemoryType", ctypes.c_int),
        ("srcHost", ctypes.c_void_p), ("srcDevice", ctypes.c_uint64), ("srcArray", ctypes.c_void_p),
        ("srcPitch", ctypes.c_size_t),
        ("dstXInBytes", ctypes.c_size_t), ("dstY", ctypes.c_size_t), ("dstMemoryType", ctypes.c_int),
        ("dstHost", ctypes.c_void_p), ("dstDevice", ctypes.c_uint64), ("dstArray", ctypes.c_void_p),
        ("dstPitch", ctypes.c_size_t),
        ("WidthInBytes", ctypes.c_size_t), ("Height", ctypes.c_size_t),
    ]


def load_cuda_driver() -> Any:
    """The CUDA driver library (``libcuda.so.1`` / ``nvcuda.dll``), or InteropUnavailable."""
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", ctypes.util.find_library("cuda")]
    for name in filter(None, names):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise InteropUnavailable("no CUDA driver library (libcuda) here")


class CudaGlUpload:
    """Copies a CUDA frame into the GL texture on the GPU. The GL context must be current on this
    thread (the window's render thread) when it is made and used."""

    kind = "CUDA-GL interop"
    needs_host = False

    def __init__(self, texture_id: int, width: int, height: int, device, driver: Any = None):
        import torch

        self.width, self.height, self.device = width, height, device
        self.cu = driver if driver is not None else load_cuda_driver()
        torch.cuda.init()                          # the primary context torch uses is made current
        with torch.cuda.device(device):
            torch.cuda.current_stream(device).synchronize()
        self.resource = ctypes.c_void_p()
        self._check(self.cu.cuGraphicsGLRegisterImage(ctypes.byref(self.resource), ctypes.c_uint(texture_id),
                                                      ctypes.c_uint(GL_TEXTURE_2D),
                                                      ctypes.c_uint(CU_GRAPHICS_REGISTER_FLAGS_WRITE_DISCARD)),
                    "registering the window's texture with CUDA")
        self.copy = _Memcpy2D(srcMemoryType=CU_MEMORYTYPE_DEVICE, dstMemoryType=CU_MEMORYTYPE_ARRAY,
                              WidthInBytes=width * 4, Height=height, srcPitch=width * 4)

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            name = ctypes.c_char_p()
            self.cu.cuGetErrorName(status, ctypes.byref(name))
            raise InteropUnavailable(f"{what} failed ({(name.value or b'').decode() or status})")

    def upload(self, frame) -> None:
        import torch

        pixels = frame.pixels
        stream = ctypes.c_void_p(torch.cuda.current_stream(pixels.device).cuda_stream)
        self._check(self.cu.cuGraphicsMapResources(1, ctypes.byref(self.resource), stream), "mapping the texture")
        try:
            array = ctypes.c_void_p()
            self._check(self.cu.cuGraphicsSubResourceGetMappedArray(ctypes.byref(array), self.resource, 0, 0),
                        "reaching the texture's memory")
            self.copy.srcDevice = pixels.data_ptr()
            self.copy.dstArray = array
            self._check(self.cu.cuMemcpy2DAsync_v2(ctypes.byref(self.copy), stream), "copying the frame")
        finally:
            # Unmapping orders the copy before any GL use of the texture.
            self._check(self.cu.cuGraphicsUnmapResources(1, ctypes.byref(self.resource), stream),
                        "unmapping the texture")

    def close(self) -> None:
        if self.resource:
            self.cu.cuGraphicsUnregisterResource(self.resource)
            self.resource = ctypes.c_void_p()


def choose_upload(texture_id: int, width: int, height: int, device, interop: bool = True,
                  driver: Any = None) -> tuple[Any, str | None]:
    """The upload for frames on ``device``: CUDA-GL interop for CUDA frames where it works, else the host
    copy. Returns ``(upload, why the host copy is used or None)``."""
    if device.type != "cuda":
        return HostUpload(texture_id, width, height), None
    if not interop:
        return HostUpload(texture_id, width, height), "CUDA-GL interop is off (window:interop=0)"
    try:
        return CudaGlUpload(texture_id, width, height, device, driver=driver), None
    except Exception as e:  # interop is an optimisation: whatever stops it, the host copy works
        return HostUpload(texture_id, width, height), f"CUDA-GL interop unavailable ({e}); using the host copy"
