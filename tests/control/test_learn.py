"""MIDI learn: recognising the moved control, writing the binding, and the whole loop on real ports."""

from __future__ import annotations

import time
import uuid

import mido
import pytest

from engine.control.learn import MidiLearn, learn_from_ports, write_binding
from engine.control.mapping import load_mapping
from engine.control.midi import MidiAdapter
from engine.control.midi_ports import MidiPorts, MidiPortsConfig
from engine.errors import MappingError


class StepClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def learned(registry, param, messages, **kw):
    clock = StepClock()
    learner = MidiLearn(param, registry.spec(param) if param in registry else None, time_fn=clock, **kw)
    for msg in messages:
        learner.offer(msg, "port A")
        clock.now += 0.01
    assert learner.result() is None          # still settling
    clock.now += 1.0
    return learner.result()


def cc(number, value, channel=0):
    return mido.Message("control_change", channel=channel, control=number, value=value)


def test_recognises_controls(registry):
    assert learned(registry, "blend.layer.4", [cc(21, 5, channel=2), cc(21, 9, channel=2)]) == {
        "control": "cc", "channel": 3, "number": 21, "param": "blend.layer.4", "range": [0.0, 1.0]}
    assert learned(registry, "blend.curve.center", [cc(33, 4), cc(1, 70)])["control"] == "cc14"
    assert learned(registry, "blend.curve.center", [cc(33, 4), cc(1, 70)])["number"] == 1
    nrpn = learned(registry, "latent.psi", [cc(99, 1), cc(98, 3), cc(6, 64), cc(38, 0)])
    assert (nrpn["control"], nrpn["number"]) == ("nrpn", 131)
    note = learned(registry, "latent.next_seed", [mido.Message("note_on", note=36, velocity=90)])
    assert (note["control"], note["number"], note["button"]) == ("note", 36, "trigger")
    pause = learned(registry, "engine.pause", [cc(41, 127), cc(41, 0)])
    assert pause["button"] == "toggle"
    bend = learned(registry, "blend.mapping", [mido.Message("pitchwheel", pitch=100)], value_range=(-1.0, 2.0))
    assert bend["control"] == "pitchbend" and bend["range"] == [-1.0, 2.0]
    assert learned(registry, "blend.layer.0", [mido.Message("clock"), mido.Message("sysex", data=[1])]) is None


def test_write_appends_and_keeps_comments(tmp_path, registry):
    path = tmp_path / "mine.toml"
    path.write_text('# my controller\n[device]\nport = "mine"\n\n[[midi]]\ncontrol = "cc"\nnumber = 1\n'
                    'param = "latent.psi"\n')
    write_binding(path, {"control": "cc", "channel": 1, "number": 2, "param": "blend.layer.0",
                         "range": [-1.0, 2.0]})
    text = path.read_text()
    assert text.startswith("# my controller")
    mapping = load_mapping(path)
    assert [(b.number, b.param, b.range) for b in mapping.midi] == [
        (1, "latent.psi", (0.0, 1.0)), (2, "blend.layer.0", (-1.0, 2.0))]


def test_relearning_a_control_replaces_its_binding(tmp_path):
    path = tmp_path / "mine.toml"
    write_binding(path, {"control": "cc", "number": 2, "param": "blend.layer.0"}, port="nanoKONTROL2 (1)")
    write_binding(path, {"control": "cc", "number": 2, "param": "blend.layer.1"})
    mapping = load_mapping(path)
    assert [b.param for b in mapping.midi] == ["blend.layer.1"]
    assert mapping.device.port == r"nanoKONTROL2\ \(1\)"


def test_a_broken_file_is_left_alone(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[[midi]\n")
    with pytest.raises(MappingError, match="broken.toml"):
        write_binding(path, {"control": "cc", "number": 2, "param": "blend.layer.0"})
    assert path.read_text() == "[[midi]\n"
    assert [p.name for p in tmp_path.iterdir()] == ["broken.toml"]      # no temp file left behind


@pytest.mark.midi
def test_learn_mode_with_a_real_cc_writes_a_working_binding(jack, registry, tmp_path):
    name = f"fakelearn-{uuid.uuid4().hex[:6]}"
    controller = jack.open_output(name, virtual=True)
    moved: list[mido.Message] = []
    ports = MidiPorts(MidiPortsConfig(input_pattern=name, backend="mido.backends.rtmidi/UNIX_JACK"),
                      lambda msg, port: moved.append(msg)).start()
    path = tmp_path / "learned.toml"
    try:
        learner = MidiLearn("blend.layer.5", registry.spec("blend.layer.5"), value_range=(-1.0, 2.0), settle=0.1)
        controller.send(cc(74, 10, channel=4))
        controller.send(cc(74, 12, channel=4))
        binding = learn_from_ports(ports, learner, path, timeout=3.0)
        assert binding is not None and moved == []            # learn mode swallowed the moves
        mapping = load_mapping(path)
        assert mapping.device.port and (b := mapping.midi[0]).number == 74 and b.channel == 5
        ports.handler = MidiAdapter(mapping, registry).handle   # the learned file now drives the engine
        registry.set("blend.layer.5", -1.0)
        for v in (0, 64, 127):
            controller.send(cc(74, v, channel=4))
            time.sleep(0.01)
        deadline = time.monotonic() + 3
        while registry.get("blend.layer.5") != 2.0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert registry.get("blend.layer.5") == 2.0
    finally:
        ports.close()
        controller.close()
