"""Style mixing: rows ``[start, end)`` of W+ taken from a second latent, blended by an amount.

Row ``i`` of W+ styles layer ``i`` of the layer table, so a row range is a layer range: coarse rows
set pose and shape, middle rows features, fine rows colour and texture (the official style-mixing
figure uses 0-3, 4-7 and 8-17 for a 1024 px StyleGAN2).
"""

from __future__ import annotations

import torch

GROUPS = ("coarse", "middle", "fine")


def group_rows(group: str, num_ws: int, family: str = "stylegan2") -> tuple[int, int]:
    """The ``[start, end)`` W+ rows of ``coarse`` (4-8 px), ``middle`` (16-32 px) or ``fine`` (64 px and up).

    StyleGAN2 rows come in pairs per resolution; StyleGAN3 (16 rows at any resolution) uses the same
    proportions as the 18-row StyleGAN2 (4/18 and 8/18 of the rows).
    """
    if group not in GROUPS:
        raise ValueError(f"style mixing group {group!r} is not one of {', '.join(GROUPS)}")
    if family == "stylegan2":
        bounds = (0, min(4, num_ws), min(8, num_ws), num_ws)
    else:
        bounds = (0, round(num_ws * 4 / 18), round(num_ws * 8 / 18), num_ws)
    i = GROUPS.index(group)
    return bounds[i], bounds[i + 1]


def row_weights(num_ws: int, start: int, end: int, amount: float,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """``[num_ws, 1]`` weights: ``amount`` on rows ``[start, end)``, 0 elsewhere."""
    weights = torch.zeros(num_ws, 1, device=device)                 # [num_ws, 1]
    lo, hi = max(int(start), 0), min(int(end), num_ws)
    if hi > lo:
        weights[lo:hi] = float(amount)
    return weights


def mix(ws: torch.Tensor, other: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``ws`` rows blended toward ``other`` by ``weights`` ``[num_ws, 1]``; both ``[N, num_ws, w_dim]``."""
    return torch.lerp(ws, other, weights)                            # [N, num_ws, w_dim]


class RowMask:
    """Caches the device weights for the last (start, end, amount) so an unchanged mix costs no upload."""

    def __init__(self, num_ws: int, device: torch.device | str):
        self.num_ws = num_ws
        self.device = device
        self._key: tuple | None = None
        self._weights: torch.Tensor | None = None

    def __call__(self, start: int, end: int, amount: float) -> torch.Tensor:
        key = (int(start), int(end), float(amount))
        if key != self._key or self._weights is None:
            self._weights = row_weights(self.num_ws, start, end, amount, self.device)
            self._key = key
        return self._weights
