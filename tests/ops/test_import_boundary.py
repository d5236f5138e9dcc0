"""stylegan_ops stands alone: importing it pulls in neither the engine nor any control/display library,
nor triton (only impl='triton' imports it, when it first runs)."""

import subprocess
import sys


def test_stylegan_ops_imports_no_engine_or_io_library():
    forbidden = "{'engine', 'mido', 'pythonosc', 'pyglet', 'rtmidi', 'triton'}"
    code = ("import sys, stylegan_ops, stylegan_ops.benchmark; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {forbidden}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
