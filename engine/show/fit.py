"""Fitting the model's image into the output frame, on the device, with no per-frame allocation.

Modes (``--fit``, every output):

- ``fit`` (default): the whole image, scaled to the largest size that fits, centred; the bars left over
  (letterbox or pillarbox) are black.
- ``fill``: the frame is covered; the image is scaled to cover it and the overhang is cropped equally
  from both sides (the centre stays).
- ``stretch``: the image is scaled to the frame's width and height independently (distorts a square
  image in a 16:9 frame).

Scaling is separable, antialiased bilinear: the same weights ``torch.nn.functional.interpolate``
(``bilinear``, ``antialias=True``) uses, taken once from it at start-up, then applied every frame as a
gather of the few source pixels each output pixel needs (``index_select``) times their weights, into
buffers allocated once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

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


def resample_taps(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index [n_out, K], weight [n_out, K])``: output ``j`` = sum_k weight[j, k] * input[index[j, k]],
    the weights of antialiased bilinear resampling from ``n_in`` to ``n_out`` samples."""
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, 1, 1, n_in)
    response = F.interpolate(basis, size=(1, n_out), mode="bilinear", antialias=True, align_corners=False)
    matrix = response.reshape(n_in, n_out).T                       # [n_out, n_in]
    nonzero = matrix != 0
    first = torch.where(nonzero.any(1), nonzero.float().argmax(1), torch.zeros(n_out, dtype=torch.long))
    last = n_in - 1 - nonzero.flip(1).float().argmax(1)
    taps = int((last - first).max().item()) + 1
    index = (first[:, None] + torch.arange(taps)[None, :]).clamp_(max=n_in - 1)   # [n_out, K]
    weight = matrix.gather(1, index)
    weight[first[:, None] + torch.arange(taps)[None, :] > n_in - 1] = 0.0          # clamped repeats add nothing
    return index, weight


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
        self._crop = (sx, sy, sw, sh)
        if self.place.resamples:
            ix, wx = resample_taps(sw, dw)
            iy, wy = resample_taps(sh, dh)
            self._ix = (ix + sx).reshape(-1).to(device)              # [dw * Kx]
            self._wx = wx.to(device, torch.float32)                  # [dw, Kx]
            self._iy = iy.reshape(-1).to(device)                     # [dh * Ky], rows of the crop
            self._wy = wy.to(device, torch.float32)[:, :, None]      # [dh, Ky, 1]
            kx, ky = wx.shape[1], wy.shape[1]
            self._gx = torch.empty((3, sh, dw * kx), dtype=torch.float32, device=device)
            self._hx = torch.empty((3, sh, dw), dtype=torch.float32, device=device)
            self._gy = torch.empty((3, dh * ky, dw), dtype=torch.float32, device=device)
            self._out = torch.empty((3, dh, dw), dtype=torch.float32, device=device)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """``img`` float ``[1, 3, H, W]`` -> the RGBA frame (the buffer given at construction)."""
        src = img[0]
        if src.shape[0] == 1:                                                       # greyscale models
            src = src.expand(3, -1, -1)
        if src.dtype != torch.float32:
            src = self._src32.copy_(src)
        sx, sy, sw, sh = self._crop
        if self.place.resamples:
            rows = src[:, sy:sy + sh]                                               # [3, sh, W] view
            dh, dw = self._out.shape[1:]
            torch.index_select(rows, 2, self._ix, out=self._gx)                     # [3, sh, dw * Kx]
            self._gx.view(3, sh, dw, -1).mul_(self._wx)
            torch.sum(self._gx.view(3, sh, dw, -1), dim=3, out=self._hx)            # [3, sh, dw]
            torch.index_select(self._hx, 1, self._iy, out=self._gy)                 # [3, dh * Ky, dw]
            self._gy.view(3, dh, -1, dw).mul_(self._wy)
            torch.sum(self._gy.view(3, dh, -1, dw), dim=2, out=self._out)           # [3, dh, dw]
            src = self._out
        else:
            src = src[:, sy:sy + sh, sx:sx + sw]
        # x in [-1, 1] -> [0, 255]; +128 instead of +127.5 because the uint8 copy rounds toward zero
        torch.mul(src.permute(1, 2, 0), 127.5, out=self._scaled)                    # [dh, dw, 3]
        self._scaled.add_(128.0).clamp_(0.0, 255.0)
        self._window.copy_(self._scaled)
        return self._rgba
