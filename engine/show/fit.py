"""Fitting the model's image into the output frame, on the device, with no per-frame allocation.

Modes (``--fit``, every output):

- ``fit`` (default): the whole image, scaled to the largest size that fits, centred; the bars left over
  (letterbox or pillarbox) are black.
- ``fill``: the frame is covered; the image is scaled to cover it and the overhang is cropped equally
  from both sides (the centre stays).
- ``stretch``: the image is scaled to the frame's width and height independently (distorts a square
  image in a 16:9 frame).

Scaling is antialiased bilinear, exactly ``torch.nn.functional.interpolate(mode="bilinear",
antialias=True)``, through its ``out=`` form so every frame writes into buffers allocated here. A
device whose PyTorch lacks that kernel (older MPS builds) falls back to plain bilinear
``interpolate`` (one allocation per frame), said once in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

log = logging.getLogger("netblend")

FIT_MODES = ("fit", "fill", "stretch")


@dataclass(frozen=True)
class Placement:
    """Which part of the source image is used, and where it lands in the output frame."""

    src: tuple[int, int, int, int]          # x, y, width, height in the source image
    dst: tuple[int, int, int, int]          # x, y, width, height in the output frame

    @property
    def resamples(self) -> bool:
        return self.src[2:] != self.dst[2:]


def placement(src_w: int, src_h: int, dst_w: int, dst_h: int, mode: str = "fit") -> Placement:
    """Where a ``src_w`` x ``src_h`` image goes in a ``dst_w`` x ``dst_h`` frame for ``mode``."""
    if mode not in FIT_MODES:
        raise ValueError(f"fit mode {mode!r}: choose {', '.join(FIT_MODES)}")
    if mode == "stretch":
        return Placement((0, 0, src_w, src_h), (0, 0, dst_w, dst_h))
    if mode == "fit":
        scale = min(dst_w / src_w, dst_h / src_h)
        w, h = min(dst_w, round(src_w * scale)), min(dst_h, round(src_h * scale))
        return Placement((0, 0, src_w, src_h), ((dst_w - w) // 2, (dst_h - h) // 2, w, h))
    scale = max(dst_w / src_w, dst_h / src_h)             # fill: crop the source to the frame's shape
    w, h = min(src_w, round(dst_w / scale)), min(src_h, round(dst_h / scale))
    return Placement(((src_w - w) // 2, (src_h - h) // 2, w, h), (0, 0, dst_w, dst_h))


def _resize_into(src: torch.Tensor, out: torch.Tensor) -> None:
    """Antialiased bilinear resize of ``src`` [1, C, h, w] into ``out`` [1, C, H, W], allocation-free."""
    torch.ops.aten._upsample_bilinear2d_aa.out(src, list(out.shape[-2:]), False, None, None, out=out)


def _resize_allocating(src: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(F.interpolate(src, size=tuple(out.shape[-2:]), mode="bilinear", align_corners=False))


class FrameFit:
    """Writes a float image ``[3, H, W]`` (about [-1, 1]) into a uint8 RGBA frame ``[h, w, 4]`` per a
    :class:`Placement`. The frame's bars are set black once; every per-frame op writes into a buffer
    made here."""

    def __init__(self, src_size: tuple[int, int], rgba: torch.Tensor, mode: str = "fit"):
        src_w, src_h = src_size
        frame_h, frame_w = int(rgba.shape[0]), int(rgba.shape[1])
        device = rgba.device
        self.mode = mode
        self.place = placement(src_w, src_h, frame_w, frame_h, mode)
        (sx, sy, sw, sh), (dx, dy, dw, dh) = self.place.src, self.place.dst
        rgba[..., :3] = 0                                            # the bars: black, opaque
        rgba[..., 3] = 255
        self._rgba = rgba
        self._window = rgba[dy:dy + dh, dx:dx + dw, :3]             # [dh, dw, 3] view
        self._src32 = torch.empty((3, src_h, src_w), dtype=torch.float32, device=device)
        self._scaled = torch.empty((dh, dw, 3), dtype=torch.float32, device=device)
        self._gain = torch.tensor(127.5, device=device)             # 0-d tensors: a Python number would be
        self._offset = torch.tensor(128.0, device=device)           # wrapped in a new tensor every frame
        self._crop = (sx, sy, sw, sh)
        self._resized = torch.empty((1, 3, dh, dw) if self.place.resamples else (0,), device=device)
        self._resize = _resize_into
        if self.place.resamples:
            try:
                _resize_into(torch.zeros((1, 3, 4, 4), device=device), torch.empty((1, 3, 2, 3), device=device))
            except (RuntimeError, NotImplementedError) as e:
                log.warning("antialiased resizing is not available on %s (%s); using plain bilinear", device, e)
                self._resize = _resize_allocating

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """``img`` float ``[1, 3, H, W]`` -> the RGBA frame (the buffer given at construction)."""
        src = img[0]
        if src.shape[0] == 1:                                                       # greyscale models
            src = src.expand(3, -1, -1)
        if src.dtype != torch.float32:
            src = self._src32.copy_(src)
        sx, sy, sw, sh = self._crop
        src = src[:, sy:sy + sh, sx:sx + sw]                                        # [3, sh, sw] view
        if self.place.resamples:
            self._resize(src[None], self._resized)                                  # [1, 3, dh, dw]
            src = self._resized[0]
        # x in [-1, 1] -> [0, 255]; +128 instead of +127.5 because the uint8 copy rounds toward zero
        torch.mul(src.permute(1, 2, 0), self._gain, out=self._scaled)              # [dh, dw, 3]
        self._scaled.add_(self._offset).clamp_(0.0, 255.0)
        self._window.copy_(self._scaled)
        return self._rgba
