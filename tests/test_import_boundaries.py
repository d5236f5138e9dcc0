"""The core, the models and the ops never import I/O libraries (MIDI, OSC, windows, video, NDI)."""

import json
import subprocess
import sys

from tests.conftest import ROOT

CORE = ["stylegan_ops", "engine.core.params", "engine.core.clock", "engine.core.paths", "engine.show.loop",
        "engine.show.render", "engine.show.build", "engine.show.catalog", "engine.models.build",
        "engine.models.loaders", "engine.models.stylegan2", "engine.models.stylegan3", "engine.blend.generator",
        "engine.blend.masks", "engine.latents.live", "engine.show.modulators"]
IO_LIBRARIES = {"mido", "rtmidi", "pythonosc", "pyglet", "av", "cyndilib", "SpoutGL", "syphon", "pyvirtualcam",
                "sounddevice", "jack"}


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


def test_audio_features_import_no_device_or_codec_library():
    """``engine.control.audio`` (params, the analyser) loads without PortAudio or PyAV: a show declares
    the audio parameters whether or not it opens an input."""
    code = ("import json, sys, engine.control.audio, engine.control.audio.features\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "numpy" in loaded and not loaded & {"sounddevice", "av", "jack"}
