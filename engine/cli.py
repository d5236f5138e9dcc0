"""The ``netblend`` command line. Each subcommand lives in ``engine/commands/<name>.py`` and exposes
``configure(parser)`` (arguments only, no heavy imports) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import NetblendError

COMMANDS = {
    "run": "the live engine (the built-in demo pair when no model is given)",
    "render": "offline render of a preset or a recorded control log to a video file",
    "inspect": "architecture and layer table of a model; with two models, how they blend",
    "convert": "convert a model to netblend's fast, safe format",
    "blend": "write a blended model: netblend blend A B --mask SPEC -o OUT",
    "project": "project a photo into W or W+ (writes the projector's .npz)",
    "sinks": "list the outputs and whether each is available here",
    "osc": "print the OSC address table (for TouchDesigner, TouchOSC, Max)",
    "midi": "list MIDI ports; `netblend midi learn PARAM` writes a binding",
    "audio": "list audio inputs (for run --audio-in); --meter DEVICE shows their features live",
    "bench": "speed figures per stage (reference and fast ops side by side)",
    "warmup": "build and cache the fast ops before a show",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen command's module is imported (so `netblend --help` is instant)."""
    parser = argparse.ArgumentParser(
        prog="netblend", description="Live StyleGAN network blending, driven by MIDI and OSC."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(f"engine.commands.{name}")
            module.configure(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args._module.run(args) or 0)
    except NetblendError as e:
        print(f"netblend: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
