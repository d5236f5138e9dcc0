"""``netblend convert MODEL [-o OUT]``: write a model in netblend's fast, safe format.

The source (official ``.pkl``, rosinality ``.pt`` or a netblend file) is read without running any code
from it, built once (which checks that weights and kwargs fit) and written atomically. The default
output is the source path with the suffix ``.netblend.safetensors``; ``-o`` without a suffix gets it,
and an ``-o`` name with another model format's suffix (``.pkl``, ``.pt``) is refused.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

SUFFIX = ".netblend.safetensors"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netblend convert``."""
    parser.add_argument("model", metavar="MODEL", help="a StyleGAN .pkl, a rosinality .pt or a netblend file")
    parser.add_argument("-o", "--output", metavar="OUT", default=None,
                        help=f"output file (default: MODEL with the suffix {SUFFIX})")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def default_output(model: Path) -> Path:
    """``face.pkl`` -> ``face.netblend.safetensors`` (beside the source)."""
    if model.name.endswith(SUFFIX):
        return model
    return model.with_suffix(SUFFIX)


def native_output(text: str) -> Path:
    """The file ``-o`` names, as a netblend-format file: ``out`` becomes ``out.netblend.safetensors``;
    a name that promises another format (``.pkl``, ``.pt``) is refused, since other tools would try to
    read it as one. Raises :class:`~engine.errors.ModelLoadError`."""
    from engine.errors import ModelLoadError

    out = Path(text).expanduser()
    if out.name.endswith(".safetensors"):
        return out
    if not out.suffix or out.suffix == ".netblend":
        return out.with_name(out.name.removesuffix(".netblend") + SUFFIX)
    raise ModelLoadError(f"-o {text}: netblend writes its own format, named *{SUFFIX}; a {out.suffix} name "
                         f"would make other tools read it as one; use -o {out.with_suffix(SUFFIX)}")


def run(args: argparse.Namespace) -> int:
    """Convert ``args.model`` to ``args.output``; errors are ``ModelLoadError`` one-liners."""
    from engine.errors import ModelLoadError
    from engine.models.loaders import load_generator, save_generator
    from engine.models.loaders.model_file import check_model_file

    out = native_output(args.output) if args.output else None       # a bad output name first: it needs no model
    model = check_model_file(args.model)
    out = out or default_output(model)
    try:
        exists = out.exists()
        same = exists and model.exists() and out.resolve() == model.resolve()
    except (OSError, ValueError, RuntimeError) as e:
        raise ModelLoadError(f"{out}: cannot use this output path ({getattr(e, 'strerror', None) or e}); "
                             f"choose another name with -o") from e
    if exists and not args.force:
        raise ModelLoadError(f"{out}: already exists; pass --force to overwrite it or -o to choose another name")
    if same:
        raise ModelLoadError(f"{out}: the output would overwrite the source; choose another name with -o")
    start = time.perf_counter()
    G = load_generator(model, device="cpu", cache=False)
    try:
        save_generator(G, out)
    except OSError as e:
        raise ModelLoadError(f"{out}: cannot write the converted model ({e.strerror or e}); nothing was "
                             f"written; free some space or choose another place with -o") from e
    seconds = time.perf_counter() - start
    params = sum(t.numel() for t in G.state_dict().values())
    print(f"{model} -> {out}: {G.family} {G.img_resolution}px, {params:,} values, "
          f"{out.stat().st_size / 2**20:.1f} MiB in {seconds:.2f} s")
    return 0
