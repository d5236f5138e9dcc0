"""The audio.* values are read-only for performers (modulation targets, MIDI learn) and writable by
analysers: ours, or TouchDesigner sending OSC to the same addresses, so a routing works with either."""

from __future__ import annotations

import logging

from engine.control.audio import params
from engine.control.live_midi import LiveMidi
from engine.control.modulator_file import ModulatorConfig, Route
from engine.control.osc import OscAdapter
from engine.core.clock import FakeClock
from engine.core.params import ParamRegistry, ParamSpec
from engine.show.modulators import Modulation
from engine.show.modulators import params as mod_params

KICK = ModulatorConfig(name="kick", type="envelope", source="audio.low", attack=0.0, release=0.0,
                       gain=2.0, routes=(Route("blend.layer.3", 1.0),))


def test_measured_values_are_declared_read_only():
    specs = {s.name: s for s in params()}
    for name in ("level", "low", "mid", "high", "onset", "beat", "bpm"):
        assert specs[f"audio.{name}"].readonly and specs[f"audio.{name}"].smoothing == 0.0
    assert not specs["audio.tempo"].readonly and specs["audio.tempo"].kind == "bool"


def test_osc_from_touchdesigner_drives_the_same_routing():
    reg = ParamRegistry()
    reg.add_all(params() + mod_params([KICK]) + [ParamSpec("blend.layer.3", 0.0, -2.0, 3.0)])
    modulation = Modulation([KICK], reg)
    osc = OscAdapter(reg)
    clock = FakeClock(fps=60)

    def frame() -> float:
        ft = clock.tick()
        return modulation.apply(reg.snapshot(ft.dt).values, ft)["blend.layer.3"]

    assert frame() == 0.0
    assert osc.handle_message("/audio/low", [0.3], ("127.0.0.1", 9000))     # a TD Audio Analysis CHOP
    assert frame() == 0.6
    assert reg.drain_changes()["audio.low"] == (0.3, ("osc", "127.0.0.1", 9000))
    assert reg.get("blend.layer.3") == 0.0                                  # the base stays


def test_midi_learn_refuses_a_measured_value(caplog):
    reg = ParamRegistry()
    reg.add_all(params())
    midi = LiveMidi(reg, actions=None)
    midi.ports = [object()]                      # an open controller (never touched: refused before)
    with caplog.at_level(logging.WARNING):
        assert midi.learn("audio.low") is None
    assert "audio.low is a measured value (read-only)" in caplog.text
