"""The ``netblend`` command line. Each subcommand lives in ``engine/commands/<name>.py`` and exposes
``configure(parser)`` (arguments only, no heavy imports) and ``run(args) -> int``.

Mistakes get one line and a "did you mean" (an unknown command or option); a value that starts with
a minus and lists numbers (``--weights -0.5,1.5``) is taken as the option's value, not as an option.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from .errors import NetblendError

COMMANDS = {
    "run": "the live engine (the built-in demo pair when no model is given)",
    "render": "offline render of a preset or a recorded control log to a video file",
    "inspect": "architecture and layer table of a model; with two models, how they blend",
    "convert": "convert a model to netblend's fast, safe format",
    "blend": "write a blended model: netblend blend A B --mask SPEC -o OUT",
    "project": "project a photo into W or W+ (writes the projector's .npz)",
    "directions": "latent directions of a model (SeFa or GANSpace) as .npz, cached for the live engine",
    "pairs": "image pairs (A | blend) for distilling a blend into pix2pix: netblend pairs A B --mask SPEC -o DIR",
    "sinks": "list the outputs and whether each is available here",
    "osc": "print the OSC address table (for TouchDesigner, TouchOSC, Max)",
    "midi": "list MIDI ports; `netblend midi learn PARAM` writes a binding",
    "audio": "list audio inputs (for run --audio-in); --meter DEVICE shows their features live",
    "bench": "speed figures per stage (reference and fast ops side by side)",
    "warmup": "build and cache the fast ops before a show",
}
# A comma-separated list of numbers whose first one is negative: a value, never an option name.
_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NEGATIVE_LIST = re.compile(rf"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\s*,\s*{_NUMBER})+$")


def version() -> str:
    """The installed version (the source checkout's when netblend is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("netblend")
    except PackageNotFoundError:
        return "(source checkout, not installed)"


class NetblendParser(argparse.ArgumentParser):
    """argparse with "did you mean" for unknown options."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(self._unrecognized(parsed, extras))
        return parsed

    def _unrecognized(self, parsed: argparse.Namespace, extras: list[str]) -> str:
        from .control.suggest import closest

        command = getattr(parsed, "_parser", self)
        options = [s for action in command._actions for s in action.option_strings]
        message = f"unrecognized arguments: {' '.join(extras)}"
        for extra in extras:
            if extra.startswith("--"):
                match = closest(extra.split("=", 1)[0], options, cutoff=0.6)
                if match:
                    return f"{message}; did you mean {match}?"
        return message


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen command's module is imported (so `netblend --help` is instant)."""
    parser = NetblendParser(prog="netblend", description="Live StyleGAN network blending, driven by MIDI and OSC.")
    parser.add_argument("--version", action="version", version=f"netblend {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=NetblendParser)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(f"engine.commands.{name}")
            module.configure(p)
            p.set_defaults(_module=module, _parser=p)
    return parser


def join_negative_lists(argv: list[str]) -> list[str]:
    """``--weights -0.5,1.5`` -> ``--weights=-0.5,1.5`` (argparse would read ``-0.5,1.5`` as an option)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        if arg.startswith("--") and "=" not in arg and i + 1 < len(argv) and _NEGATIVE_LIST.match(argv[i + 1]):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def _unknown_command(word: str) -> str:
    from .control.suggest import closest

    match = closest(word, COMMANDS, cutoff=0.6)
    hint = f"did you mean {match!r}? " if match else ""
    return f"netblend: error: unknown command {word!r}; {hint}`netblend --help` lists the commands"


def main(argv: list[str] | None = None) -> int:
    argv = join_negative_lists(sys.argv[1:] if argv is None else list(argv))
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is not None and command not in COMMANDS:
        print(_unknown_command(command), file=sys.stderr)
        return 2
    parser = build_parser(command)
    args = parser.parse_args(argv)
    args.argv = argv                                   # the command line as given (the watchdog re-runs it)
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
