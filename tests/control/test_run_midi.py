"""`netblend run --mapping ... --midi-port ...` wiring: a controller on a real (JACK) port moves the
show's parameters and its buttons reach the show's actions."""

from __future__ import annotations

import uuid
from pathlib import Path

import mido
import pytest

from engine.show import MidiConfig, OscConfig, TransportConfig, start_transports
from tests.helpers import make_show, send_paced, wait_for

pytestmark = pytest.mark.midi
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def test_run_binds_a_shipped_mapping_to_the_live_show(jack, tmp_path):
    name = f"nanoKONTROL2-fake-{uuid.uuid4().hex[:6]}"
    port = jack.open_output(name, virtual=True)
    show = make_show(tmp_path, fps=30)
    try:
        midi = MidiConfig(mappings=[str(MAPPINGS / "nanokontrol2.toml")], port=name)
        start_transports(show, TransportConfig(osc=OscConfig(port=0), midi=midi, autosave=0))
        assert show.midi is not None and show.midi.ports[0].connected, "no MIDI input was opened"
        # fader 1 (CC 0) swept from the bottom: soft takeover picks it up at the current value (0)
        send_paced(port, [mido.Message("control_change", channel=0, control=0, value=v) for v in range(128)])
        assert wait_for(lambda: show.registry.get("blend.layer.0") == pytest.approx(1.0))
        # the stop button (CC 42) is panic: back to model A
        port.send(mido.Message("control_change", channel=0, control=42, value=127))
        assert wait_for(lambda: show.registry.trigger_counts()["blend.panic"] == 1)
    finally:
        show.close()
        port.close()


def test_learn_mode_while_running_binds_the_next_control_at_once(jack, tmp_path):
    from engine.control.mapping import load_mapping
    from engine.control.osc import OscAdapter

    name = f"anyctl-{uuid.uuid4().hex[:6]}"
    port = jack.open_output(name, virtual=True)
    learned = tmp_path / "learned.toml"
    show = make_show(tmp_path, fps=30)
    try:
        midi = MidiConfig(port=name, learn_file=learned)
        start_transports(show, TransportConfig(osc=OscConfig(port=0), midi=midi, autosave=0))
        assert show.midi is not None and show.midi.ports[0].connected
        # TouchDesigner (or TouchOSC) asks for learn mode over OSC
        OscAdapter(show.registry, show.actions).handle_message("/midi/learn", ["blend.layer.2"], ("127.0.0.1", 9))
        send_paced(port, [mido.Message("control_change", channel=2, control=21, value=v) for v in range(0, 40, 4)])
        show.midi.learning.join(timeout=10)
        assert show.registry.get("blend.layer.2") == 0.0            # learning swallowed the moves
        [binding] = load_mapping(learned).midi
        assert (binding.control, binding.channel, binding.number, binding.param) == ("cc", 3, 21, "blend.layer.2")
        # the new binding works at once, without a restart
        send_paced(port, [mido.Message("control_change", channel=2, control=21, value=v) for v in range(128)])
        assert wait_for(lambda: show.registry.get("blend.layer.2") == pytest.approx(1.0))
    finally:
        show.close()
        port.close()


@pytest.mark.slow
def test_a_fader_moved_as_soon_as_the_engine_reports_itself_up_counts(jack, tmp_path):
    """A real `netblend run` process with the shipped nanoKONTROL2 map and OSC feedback: the moment the
    first /engine/fps arrives, fader 1 sweeps 0..127, and /blend/layer/0 must reach 1.0 in the
    feedback. (MIDI moves in the first second after start-up used to be lost.) Without an ALSA
    sequencer the engine must also find the JACK server by itself (no MIDO_BACKEND)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    from pythonosc.osc_message import OscMessage

    from engine.control.midi_backend import alsa_sequencer_present
    from tests.conftest import ROOT

    name = f"nanoKONTROL2 startup-{uuid.uuid4().hex[:6]}"
    port = jack.open_output(name, virtual=True)
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)         # an OSC In CHOP
    listen.bind(("127.0.0.1", 0))
    listen.settimeout(0.2)
    env = dict(os.environ)
    if not alsa_sequencer_present():
        env.pop("MIDO_BACKEND", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", "--device", "cpu", "--sink", "null", "--seconds", "120",
         "--autosave", "0", "--presets", str(tmp_path), "--osc-port", "0", "--http-port", "0",
         "--mapping", str(MAPPINGS / "nanokontrol2.toml"), "--osc-feedback", f"127.0.0.1:{listen.getsockname()[1]}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: dict[str, float] = {}
    swept_at = reached = None
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and reached is None:
            assert swept_at is None or time.monotonic() - swept_at < 10, f"the sweep never arrived: {got}"
            try:
                msg = OscMessage(listen.recv(65536))
            except TimeoutError:
                assert proc.poll() is None, proc.communicate()[1]
                continue
            got[msg.address] = msg.params[0]
            if swept_at is None and msg.address == "/engine/fps":
                swept_at = time.monotonic()
                send_paced(port, [mido.Message("control_change", channel=0, control=0, value=v) for v in range(128)])
            if swept_at is not None and got.get("/blend/layer/0") == 1.0:
                reached = time.monotonic() - swept_at
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        port.close()
        listen.close()
    assert reached is not None, f"no /engine/fps within the time limit: {err[-2000:]}"
    print(f"fader sweep reached 1.0 {reached:.2f} s after the first /engine/fps")
    assert "MIDI nanokontrol2.toml: " in err and name in err, err
    assert proc.returncode == 0, err
