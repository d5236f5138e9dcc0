"""How far fine-tuning moved each layer: ``||B - A|| / ||A||`` over the layer's blendable tensors.

A performer reads it to see which layers carry the new domain (large change) and which B kept from
the base (small change), and so where a crossover or a per-layer fader will matter. ``netblend
inspect A B`` prints it as a table and draws it as a bar chart (:func:`bar_chart`, Pillow only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

UNRELATED = 0.9    # a median relative change above this: probably not fine-tuned from one base


@dataclass(frozen=True)
class LayerDistance:
    index: int | None        # layer index; None for the mapping network
    name: str
    resolution: int          # 0 for the mapping network
    relative_change: float   # ||B - A|| / ||A|| over the layer's blendable tensors


def _relative(keys, sa: dict[str, torch.Tensor], sb: dict[str, torch.Tensor]) -> float:
    diff = sum(float((sb[k].float() - sa[k].float()).pow(2).sum()) for k in keys)
    norm = sum(float(sa[k].float().pow(2).sum()) for k in keys)
    return (diff ** 0.5) / max(norm ** 0.5, 1e-12)


def layer_distances(A: Any, B: Any) -> list[LayerDistance]:
    """Relative weight change per layer of the layer table, then the mapping network (last row).

    Noise buffers (``noise_const``, fixed random inputs, not learned) are left out.
    """
    sa, sb = A.state_dict(), B.state_dict()
    table = A.layers
    rows = []
    for entry in table:
        keys = [k for k in entry.keys if not k.endswith("noise_const")]
        rows.append(LayerDistance(entry.index, entry.name, entry.resolution, _relative(keys, sa, sb)))
    mapping_keys = [k for k, _ in table.mapping]
    rows.append(LayerDistance(None, "mapping", 0, _relative(mapping_keys, sa, sb)))
    return rows


def looks_unrelated(rows: list[LayerDistance]) -> bool:
    """True when most layers moved as far as their own size: not siblings of one base."""
    changes = sorted(r.relative_change for r in rows)
    return changes[len(changes) // 2] > UNRELATED


def bar_chart(rows: list[LayerDistance], path: str | Path, title: str = "") -> Path:
    """Write a PNG bar chart of the relative change per layer (Pillow, no matplotlib)."""
    from PIL import Image, ImageDraw

    bar, gap, left, top, height = 28, 8, 60, 40, 240
    width = left + len(rows) * (bar + gap) + gap
    img = Image.new("RGB", (max(width, 320), top + height + 60), "white")
    draw = ImageDraw.Draw(img)
    peak = max((r.relative_change for r in rows), default=0.0) or 1.0
    draw.text((left, 10), title or "relative weight change ||B-A||/||A|| per layer", fill="black")
    base = top + height
    draw.line((left - 4, base, width, base), fill="black")
    draw.line((left - 4, top, left - 4, base), fill="black")
    for frac in (0.0, 0.5, 1.0):
        y = base - frac * height
        draw.text((4, y - 6), f"{peak * frac:.3g}", fill="black")
        draw.line((left - 8, y, left - 4, y), fill="black")
    for i, row in enumerate(rows):
        x0 = left + gap + i * (bar + gap)
        h = row.relative_change / peak * height
        colour = (90, 90, 90) if row.index is None else (40, 110, 200)
        draw.rectangle((x0, base - h, x0 + bar, base), fill=colour)
        label = "map" if row.index is None else str(row.index)
        draw.text((x0 + 2, base + 6), label, fill="black")
        if row.resolution:
            draw.text((x0 + 2, base + 22), str(row.resolution), fill=(120, 120, 120))
    draw.text((left, base + 40), "layer index / resolution", fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
