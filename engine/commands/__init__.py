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
