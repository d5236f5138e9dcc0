"""One module per ``netblend`` subcommand: ``configure(parser)`` (arguments only, no heavy imports)
and ``run(args) -> int``. Arguments shared by the commands that build a show live here."""


def add_show_arguments(parser) -> None:
    """Models, preset, output size and fit, and device: what `run` and `render` both take."""
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="model files (.pkl, .pt, netblend), model A first (default: the built-in demo pair)")
    parser.add_argument("--preset", metavar="F", help="preset name (in --presets) or .toml file to start with")
    parser.add_argument("--presets", metavar="DIR",
                        help="presets folder (default: $NETBLEND_PRESETS, else the project's presets/)")
    parser.add_argument("--size", metavar="WxH", help="output size (default: the model's resolution)")
    parser.add_argument("--fit", choices=("fit", "fill", "stretch"), default="fit",
                        help="how the image fills --size: fit (whole image, black bars; default), "
                             "fill (covers the frame, crops the centre), stretch (distorts)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    add_frame_arguments(parser)


def add_frame_arguments(parser) -> None:
    """How frames are computed: precision, torch.compile, CUDA graphs (run, render, warmup, bench)."""
    group = parser.add_argument_group("frame computation (docs/gpu.md)")
    group.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16"),
                       help="fp16 layers in half precision: auto = on CUDA only (MPS and CPU render fp32)")
    group.add_argument("--fp16-res", type=int, default=None, metavar="N",
                       help="fp16 layers = the N highest resolutions (default: the model's own, 4 officially)")
    group.add_argument("--compile", default="auto", choices=("auto", "on", "off"),
                       help="torch.compile the frame at warm-up, cached on disk (auto: on CUDA; off on CPU and MPS)")
    group.add_argument("--cuda-graph", default="auto", choices=("auto", "on", "off"),
                       help="replay the frame as a CUDA graph (auto: with --compile on CUDA)")


def frame_config(args) -> dict:
    """The ShowConfig fields of the frame arguments."""
    return dict(precision=getattr(args, "precision", "auto"), num_fp16_res=getattr(args, "fp16_res", None),
                compile=getattr(args, "compile", "auto"), cuda_graph=getattr(args, "cuda_graph", "auto"))


def parse_ranges(text: str, option: str, items: str, example: str, error: type[Exception]) -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]`` (in the order written, repeats kept) for a command-line option;
    ``error`` (a NetblendError class) names ``option`` for anything else. ``items`` says what the numbers
    are (``"seeds"``); ``example`` is a valid value."""
    numbers: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise error(f"{option} {text!r}: write {items} and ranges, e.g. {example}")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise error(f"{option} {text!r}: the range {part} runs backwards; write {last}-{first}")
        numbers.extend(range(first, last + 1))
    if not numbers:
        raise error(f"{option} {text!r}: no {items} given; e.g. {option} {example}")
    return numbers
