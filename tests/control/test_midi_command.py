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


def netblend(*argv, env_drop=("MIDO_BACKEND",), **env):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    environment = {k: v for k, v in os.environ.items() if k not in env_drop}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "engine", *argv], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_alsa_error_lines_stay_off_the_terminal():
    """Without a MIDI system the user reads one netblend line, not ALSA's C library chatter."""
    result = netblend("midi", JACK_DEFAULT_SERVER="netblend-no-such-server")
    assert "ALSA lib" not in result.stderr
    if result.returncode != 0:                       # no ALSA sequencer here (containers, CI)
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert result.stderr.startswith("netblend: error: no MIDI system available")


def test_jack_is_chosen_when_alsas_sequencer_is_absent(monkeypatch, tmp_path):
    import socket

    from engine.control import midi_backend

    monkeypatch.setattr(midi_backend, "alsa_sequencer_present", lambda: False)
    live, stale = tmp_path / "live", tmp_path / "stale"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(live))
    server.listen(1)
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(str(stale))     # left behind by a dead server
    try:
        monkeypatch.setattr(midi_backend, "jack_sockets", lambda name, uid: [str(stale), str(live)])
        assert midi_backend.choose_backend({}, "linux")[0] == midi_backend.JACK_BACKEND
        monkeypatch.setattr(midi_backend, "jack_sockets", lambda name, uid: [str(stale)])
        assert midi_backend.choose_backend({}, "linux")[0] == midi_backend.DEFAULT_BACKEND
        assert midi_backend.choose_backend({"MIDO_BACKEND": "x.y"}, "linux") == ("x.y", "MIDO_BACKEND")
        monkeypatch.setattr(midi_backend, "alsa_sequencer_present", lambda: True)
        monkeypatch.setattr(midi_backend, "jack_sockets", lambda name, uid: [str(live)])
        assert midi_backend.choose_backend({}, "linux")[0] == midi_backend.DEFAULT_BACKEND
    finally:
        server.close()


@pytest.mark.midi
def test_netblend_midi_finds_a_jack_port_with_no_mido_backend_set(jack):
    """The test JACK server, no MIDO_BACKEND: `netblend midi` finds JACK by itself (no ALSA here)."""
    import os

    from engine.control.midi_backend import alsa_sequencer_present

    if alsa_sequencer_present():
        pytest.skip("this machine has ALSA's sequencer: ALSA is the right choice here")
    name = f"nanoKONTROL2 auto-{uuid.uuid4().hex[:4]}"
    port = jack.open_output(name, virtual=True)
    try:
        result = netblend("midi", JACK_DEFAULT_SERVER=os.environ["JACK_DEFAULT_SERVER"])
    finally:
        port.close()
    assert result.returncode == 0, result.stderr
    assert name in result.stdout and "mappings/nanokontrol2.toml" in result.stdout
    assert "ALSA lib" not in result.stderr and "Cannot connect" not in result.stderr
