"""`netblend osc`: the OSC address table (address, name, type, range, default) to copy into
TouchDesigner, TouchOSC or Max. ``--format tsv`` pastes straight into a TouchDesigner Table DAT."""

from __future__ import annotations

import csv
import sys

FORMATS = ("table", "tsv", "csv", "markdown")
COLUMNS = ("address", "name", "type", "range", "default", "description")


def configure(parser) -> None:
    parser.add_argument("--layers", type=int, default=18,
                        help="layer count of the model (18 = StyleGAN2 at 1024 px, 14 at 256 px)")
    parser.add_argument("--family", choices=("stylegan2", "stylegan3"), default="stylegan2",
                        help="model family (StyleGAN2 has noise, StyleGAN3 the input transform)")
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="read layer count and family from this model file instead")
    parser.add_argument("--map", metavar="FILE", action="append", default=None,
                        help="also list the [[osc]] aliases of this mapping file (repeatable)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (aligned text), tsv (paste into a Table DAT), csv or markdown")
    parser.epilog = ("Send one float per message to an address (/blend/layer/3 0.7), or a list to a "
                     "numbered prefix (/blend/layer 0 0.5 1 ...). Default port 9000 on 127.0.0.1; "
                     "see docs/touchdesigner.md.")


def _show_registry(args):
    from types import SimpleNamespace

    from ..core.params import ParamRegistry
    from ..show.catalog import show_params

    if args.model:
        from ..models.loaders import load_generator

        G = load_generator(args.model, device="cpu")
        num_layers = len(G.layers)
    else:
        if args.layers < 1:
            from ..errors import NetblendError

            raise NetblendError(f"--layers {args.layers}: give the model's layer count (1 or more)")
        G = SimpleNamespace(num_ws=args.layers, c_dim=0, family=args.family)
        num_layers = args.layers
    registry = ParamRegistry()
    registry.add_all(show_params(num_layers, G))
    return registry


def _fmt(x: float) -> str:
    return f"{x:g}"


def address_rows(registry, aliases=()) -> list[tuple[str, ...]]:
    """One row per address: parameters, list forms, actions, feedback-only values, aliases."""
    from ..control.feedback import FPS_ADDRESS
    from ..control.osc import ACTION_ADDRESSES

    rows: list[tuple[str, ...]] = []
    numbered: dict[str, list[str]] = {}
    for spec in registry:
        if spec.address in ACTION_ADDRESSES:
            continue  # listed once, below, as the action it fires
        prefix, _, last = spec.name.rpartition(".")
        if last.isdigit():
            numbered.setdefault(prefix, []).append(spec.name)
        if spec.kind == "choice":
            kind, rng, default = "s|i", "|".join(spec.choices), spec.choices[int(spec.default)]
        elif spec.kind == "trigger":
            kind, rng, default = "trigger", "-", "-"
        elif spec.kind == "bool":
            kind, rng, default = "bool", "0|1", _fmt(spec.default)
        else:
            kind = "i" if spec.kind == "int" else "f"
            rng, default = f"{_fmt(spec.lo)}..{_fmt(spec.hi)}", _fmt(spec.default)
        rows.append((spec.address, spec.name, kind, rng, default, spec.doc))
    for prefix, names in numbered.items():
        spec = registry.spec(names[0])
        rows.append(("/" + prefix.replace(".", "/"), f"{names[0]}..{names[-1].rpartition('.')[2]}",
                     f"f x{len(names)}", f"{_fmt(spec.lo)}..{_fmt(spec.hi)}", _fmt(spec.default),
                     "list form: one value per numbered parameter, in order"))
    for address, what in ACTION_ADDRESSES.items():
        kind = {"/preset/recall": "s [f]", "/preset/save": "s", "/midi/learn": "s"}.get(address, "trigger")
        rows.append((address, "(action)", kind, "-", "-", what))
    rows.append((FPS_ADDRESS, "(feedback)", "f", "-", "-", "sent about once a second to --osc-feedback"))
    for alias in aliases:
        rng = "raw" if alias.range is None else f"0..1 -> {_fmt(alias.range[0])}..{_fmt(alias.range[1])}"
        rows.append((alias.address, alias.param, "alias", rng, "-", "from a mapping file"))
    return rows


def print_rows(rows: list[tuple[str, ...]], fmt: str, out=None) -> None:
    out = out or sys.stdout
    if fmt in ("tsv", "csv"):
        writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return
    if fmt == "markdown":
        out.write("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n")
        for row in rows:
            out.write("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |\n")
        return
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    for row in [COLUMNS, *rows]:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] + "\n")


def run(args) -> int:
    from ..control.osc import load_osc_aliases

    registry = _show_registry(args)
    aliases = [a for path in args.map or () for a in load_osc_aliases(path)]
    print_rows(address_rows(registry, aliases), args.format)
    return 0
