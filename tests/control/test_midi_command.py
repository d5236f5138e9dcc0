"""`netblend midi` and `netblend midi learn` as a user runs them."""

from __future__ import annotations

import argparse
import threading
import time
import uuid

import mido
import pytest

from engine.commands import midi as midi_command
from engine.control import midi_ports
from engine.control.mapping import load_mapping
from engine.control.midi_ports import MidiUnavailable


def run(argv):
    parser = argparse.ArgumentParser()
    midi_command.configure(parser)
    return midi_command.run(parser.parse_args(argv))


def test_no_midi_system_says_so(monkeypatch):
    class NoAlsa:
        def get_input_names(self):
            raise SystemError("MidiInAlsa::initialize: error creating ALSA sequencer client object.")

    monkeypatch.setattr(midi_ports, "get_backend", lambda name=None: NoAlsa())
    with pytest.raises(MidiUnavailable, match="^no MIDI system available"):
        run([])


@pytest.mark.midi
def test_list_shows_ports_and_the_mapping_that_fits(jack, capsys):
    port = jack.open_output(f"nanoKONTROL2 {uuid.uuid4().hex[:4]}", virtual=True)
    try:
        assert run(["list"]) == 0
    finally:
        port.close()
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "nanoKONTROL2" in line)
    assert "mappings/nanokontrol2.toml" in line


@pytest.mark.midi
def test_learn_command_writes_the_binding(jack, tmp_path, capsys):
    name = f"fakecli-{uuid.uuid4().hex[:6]}"
    port = jack.open_output(name, virtual=True)
    path = tmp_path / "learned.toml"

    def move_a_knob():
        time.sleep(0.4)
        for v in (30, 31, 32):
            port.send(mido.Message("control_change", control=16, value=v))

    mover = threading.Thread(target=move_a_knob)
    mover.start()
    try:
        code = run(["learn", "blend.curve.amount", "--mapping", str(path), "--midi-port", name,
                    "--range", "-1", "2", "--timeout", "5"])
    finally:
        mover.join()
        port.close()
    assert code == 0
    binding = load_mapping(path).midi[0]
    assert (binding.control, binding.number, binding.param, binding.range) == (
        "cc", 16, "blend.curve.amount", (-1.0, 2.0))
    assert "cc 16" in capsys.readouterr().out
