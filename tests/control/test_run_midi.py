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
