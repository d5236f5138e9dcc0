"""``netblend inspect MODEL [MODEL ...] [--plot out.png]``: a model's architecture and layer table;
with two or more models, whether they blend and how far fine-tuning moved each layer."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netblend inspect``."""
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="a .pkl, rosinality .pt or netblend file; give two or more to compare them")
    parser.add_argument("--plot", metavar="PNG", default=None,
                        help="with two models: write a bar chart of the change per layer to this PNG")


def table(header: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[bool]) -> str:
    """Rows as aligned text columns (``right`` marks the right-aligned ones)."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def describe(G, label: str) -> str:
    """The architecture summary and layer table of one generator."""
    params = sum(p.numel() for p in G.parameters())
    head = [
        f"{label}",
        f"  family      {G.family} ({G.config})",
        f"  resolution  {G.img_resolution} x {G.img_resolution}, {G.img_channels} channels",
        f"  z / w / c   {G.z_dim} / {G.w_dim} / {G.c_dim}",
        f"  num_ws      {G.num_ws}",
        f"  parameters  {params:,}",
        f"  config      {', '.join(f'{k}={v}' for k, v in sorted(G.init_kwargs.items()))}",
        "",
    ]
    body = table(("index", "name", "resolution", "channels", "kinds"), G.layers.describe(),
                 (True, False, True, True, False))
    return "\n".join(head) + body


def compare(models, paths) -> tuple[str, list]:
    """Text saying whether the models blend, and each B's change per layer relative to A."""
    from engine.blend.distance import layer_distances, looks_unrelated
    from engine.blend.generator import check_compatible

    check_compatible(models)
    out = [f"these {len(models)} models blend (same family, keys and shapes)"]
    first_rows: list = []
    for path, B in zip(paths[1:], models[1:]):
        rows = layer_distances(models[0], B)
        first_rows = first_rows or rows
        out.append(f"\nrelative weight change ||B-A||/||A|| per layer, A = {paths[0]}, B = {path}")
        peak = max(r.relative_change for r in rows) or 1.0
        body = [("map" if r.index is None else r.index, r.name, r.resolution or "-", f"{r.relative_change:.4f}",
                 "#" * round(30 * r.relative_change / peak)) for r in rows]
        out.append(table(("index", "name", "resolution", "change", ""), body, (True, False, True, True, False)))
        if looks_unrelated(rows):
            out.append("note: most layers changed as much as their own size; these do not look fine-tuned "
                       "from one base, so blends will be noisy")
    return "\n".join(out), first_rows


def run(args: argparse.Namespace) -> int:
    """Print the inspection; exit 1 when the models do not blend."""
    from engine.errors import IncompatibleModels, NetblendError
    from engine.models.loaders import load_generator

    models = [load_generator(path, device="cpu") for path in args.models]
    if len(models) == 1:
        if args.plot:
            raise NetblendError("--plot needs two models to compare: netblend inspect A B --plot out.png")
        print(describe(models[0], args.models[0]))
        return 0
    try:
        text, rows = compare(models, args.models)
    except IncompatibleModels as e:
        print(f"these models do not blend: {e}")
        return 1
    print(text)
    if args.plot:
        from engine.blend.distance import bar_chart

        path = bar_chart(rows, args.plot, title=f"change per layer: {args.models[1]} vs {args.models[0]}")
        print(f"bar chart written to {path}")
    return 0
