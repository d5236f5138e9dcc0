"""`netblend osc`: the OSC address table (address, name, type, effective range, default) to copy into
TouchDesigner, TouchOSC or Max. ``--format tsv`` pastes straight into a TouchDesigner Table DAT,
``--format json`` is for scripts. The table is the show's: the model given (``--model``), else the
built-in demo pair that ``netblend run`` plays without one; ``--layers N`` sketches a model's table
without the file. A running engine answers ``/engine/describe`` with the same rows."""

from __future__ import annotations

import sys

FORMATS = ("table", "tsv", "csv", "markdown", "json")


def configure(parser) -> None:
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="the model the show plays (default: the built-in demo pair)")
    parser.add_argument("--layers", type=int, default=None,
                        help="no model file: the table for this layer count (18 = StyleGAN2 at 1024 px)")
    parser.add_argument("--family", choices=("stylegan2", "stylegan3"), default=None,
                        help="with --layers: the model family (StyleGAN2 has noise, StyleGAN3 the input transform)")
    parser.add_argument("--map", metavar="FILE", action="append", default=None,
                        help="also list the [[osc]] aliases of this mapping file (repeatable)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (aligned text), tsv (paste into a Table DAT), csv, markdown or json")
    parser.epilog = ("Send one float per message to an address (/blend/layer/3 0.7), or a list to a "
                     "numbered prefix (/blend/layer 0 0.5 1 ...). Default port 9000 on 127.0.0.1; "
                     "see docs/touchdesigner.md.")


def _generator(args):
    """Something with the attributes the parameter catalog reads (layers, family, c_dim, num_ws),
    and a line saying which model the table is for."""
    from types import SimpleNamespace

    from ..errors import NetblendError

    if args.model:
        from ..models.loaders import load_generator

        G = load_generator(args.model, device="cpu")
        return G, len(G.layers), f"{args.model} ({G.family}, {G.img_resolution} px, {len(G.layers)} layers)"
    if args.layers is not None:
        if args.layers < 1:
            raise NetblendError(f"--layers {args.layers}: give the model's layer count (1 or more)")
        family = args.family or "stylegan2"
        G = SimpleNamespace(num_ws=args.layers, c_dim=0, family=family)
        return G, args.layers, f"a {family} model with {args.layers} layers"
    if args.family:
        raise NetblendError("--family needs --layers N (or give the model with --model FILE)")
    from ..models.build import build_generator
    from ..models.demo import DEMO_KWARGS

    G = build_generator(DEMO_KWARGS)       # the demo's architecture; its weights do not matter here
    return G, len(G.layers), (f"the demo pair ({G.family}, {G.img_resolution} px, {len(G.layers)} layers); "
                              "--model FILE for yours")


def show_registry(args):
    """The registry of the show the table describes, and a line naming its model."""
    from ..core.params import ParamRegistry
    from ..show.catalog import show_params

    G, num_layers, what = _generator(args)
    registry = ParamRegistry()
    registry.add_all(show_params(num_layers, G))
    return registry, what


def run(args) -> int:
    from ..control.osc import load_osc_aliases
    from ..control.osc_table import address_rows, print_rows

    aliases = [a for path in args.map or () for a in load_osc_aliases(path)]
    registry, what = show_registry(args)
    print(f"netblend: OSC addresses for {what}", file=sys.stderr)
    print_rows(address_rows(registry, aliases), args.format)
    return 0
