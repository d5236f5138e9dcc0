"""The core, the models and the ops never import I/O libraries (MIDI, OSC, windows, video, NDI)."""

import json
import subprocess
import sys

from tests.conftest import ROOT

CORE = ["stylegan_ops", "engine.core.params", "engine.core.clock", "engine.core.paths", "engine.show.loop",
        "engine.show.render", "engine.show.build", "engine.show.catalog", "engine.models.build",
        "engine.models.loaders", "engine.models.stylegan2", "engine.models.stylegan3", "engine.blend.generator",
        "engine.blend.masks", "engine.latents.live"]
IO_LIBRARIES = {"mido", "rtmidi", "pythonosc", "pyglet", "av", "cyndilib", "SpoutGL", "syphon", "pyvirtualcam"}


def test_core_imports_no_io_library():
    code = (f"import importlib, json, sys\nfor m in {CORE!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "torch" in loaded                      # the check really imported the modules
    assert loaded & IO_LIBRARIES == set()


def test_cli_help_is_instant_and_imports_no_torch():
    code = "import sys; from engine.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
