"""Style mixing: rows ``[start, end)`` of W+ taken from a second latent, blended by an amount
(on the device, in :meth:`engine.latents.live.LatentEngine.compute`); here, the named row groups.

Row ``i`` of W+ styles layer ``i`` of the layer table, so a row range is a layer range: coarse rows
set pose and shape, middle rows features, fine rows colour and texture (the official style-mixing
figure uses 0-3, 4-7 and 8-17 for a 1024 px StyleGAN2).
"""

from __future__ import annotations

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
