"""`netblend run` as a TouchDesigner user meets it: a separate process, OSC in, OSC feedback out."""

import socket
import subprocess
import sys
import time

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from tests.conftest import ROOT


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_takes_osc_and_sends_feedback_and_fps(tmp_path):
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)     # our "OSC In CHOP"
    listen.bind(("127.0.0.1", 0))
    listen.settimeout(0.2)
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", "--device", "cpu", "--sink", "null", "--seconds", "30",
         "--autosave", "0", "--presets", str(tmp_path), "--osc-port", str(port), "--http-port", "0",
         "--osc-feedback", f"127.0.0.1:{listen.getsockname()[1]}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)        # our "OSC Out CHOP"
    got: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ("/blend/layer/1" in got and got.get("/engine/fps", 0) > 0):
            sender.sendto(build_msg("/blend/layer/1", 0.7).dgram, ("127.0.0.1", port))
            try:
                msg = OscMessage(listen.recv(4096))
                got[msg.address] = msg.params[0]
            except TimeoutError:
                assert proc.poll() is None, proc.stderr.read()
    finally:
        proc.terminate()                                  # SIGTERM: a clean stop with the summary line
        out, err = proc.communicate(timeout=30)
    assert abs(got["/blend/layer/1"] - 0.7) < 1e-6
    assert got["/engine/fps"] > 0                       # sent about once a second once frames flow
    assert proc.returncode == 0, err
    assert out.strip().startswith("netblend: ") and "fps" in out
    assert f"OSC on 127.0.0.1:{port}" in err
