"""``netblend blend A B [C ...] --mask SPEC -o OUT``: write a blended model in the netblend format.

``--mask`` takes the mask syntax of :mod:`engine.blend.spec` (``crossover@32:width=1``,
``interp=0.5``, ``4:0,8:0,16:1``, ``L3=0.7``, ``mapping=0``, joined with ``;``) and blends A with B.
``--weights 0.2,0.3,0.5`` blends all K models with one weight each (convex; ``--free`` extrapolates
as ``A + sum_k w_k (M_k - A)``). The result loads like any model: ``netblend inspect OUT``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.blend.spec import HELP


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netblend blend``."""
    parser.add_argument("models", nargs="+", metavar="MODEL", help="model A (the base), B, and more siblings")
    parser.add_argument("--mask", metavar="SPEC", default=None, help=f"A-to-B mask: {HELP}")
    parser.add_argument("--weights", metavar="W0,W1,..", default=None,
                        help="N-way: one weight per model for every layer and the mapping")
    parser.add_argument("--free", action="store_true", help="with --weights: no normalisation (overblend)")
    parser.add_argument("-o", "--output", metavar="OUT", required=True, help="the blended model to write")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def _weights(text: str) -> list[float]:
    from engine.blend.masks import MaskError

    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise MaskError(f"--weights {text!r}: expected numbers separated by commas, e.g. 0.5,0.25,0.25") from None


def run(args: argparse.Namespace) -> int:
    """Blend the models and write OUT atomically; user errors are one-line NetblendErrors."""
    from engine.blend.generator import BlendedGenerator
    from engine.blend.spec import check_mask, parse_mask
    from engine.errors import NetblendError
    from engine.models.loaders import load_generator
    from engine.models.loaders.native import save_native

    from .convert import native_output

    out = native_output(args.output)
    if len(args.models) < 2:
        raise NetblendError("blend needs two or more models: netblend blend A B --mask SPEC -o OUT")
    if (args.mask is None) == (args.weights is None):
        raise NetblendError(f"give exactly one of --mask SPEC ({HELP}) or --weights W0,W1,..")
    if out.exists() and not args.force:
        raise NetblendError(f"{out}: already exists; pass --force to overwrite it or -o to choose another name")
    if any(Path(m).expanduser().resolve() == out.resolve() for m in args.models if Path(m).exists()):
        raise NetblendError(f"{out}: the output would overwrite an input; choose another name with -o")
    if args.mask is not None:
        check_mask(args.mask)                      # a typo shows before any model loads
    else:
        _weights(args.weights)
    blended = BlendedGenerator([load_generator(path, device="cpu") for path in args.models])
    if args.mask is not None:
        state = parse_mask(args.mask, blended.layers)
        blended.apply(state)
        summary = "t per layer " + " ".join(f"{t:g}" for t in state.layers) + f", mapping {state.mapping:g}"
    else:
        weights = _weights(args.weights)
        mode = "free" if args.free else "convex"
        blended.set_weights(weights, mode=mode, mapping=weights)
        summary = f"{mode} weights {args.weights}"
    save_native(out, blended.state_dict(), blended.init_kwargs, blended.family)
    print(f"{' + '.join(args.models)} -> {out} ({summary})")
    return 0
