"""What the window's overlay reads from a running show: mask, faders, seed, preset, walk, tempo,
pause, and MIDI controls waiting for pickup (from the adapter, read-only)."""

import mido

from engine.control.live_midi import LiveMidi
from engine.control.mapping import parse_mapping
from engine.control.midi import MidiAdapter
from engine.control.midi_values import unit_position
from engine.show.overlay_info import OverlaySource
from engine.show.preset_file import Preset
from tests.helpers import make_show, steps


def test_the_overlay_shows_the_show_as_it_plays(tmp_path):
    show = make_show(tmp_path)
    source = OverlaySource(show)
    show.registry.set("latent.seed", 42)
    show.registry.set("latent.walk.mode", "slerp")
    show.registry.set("latent.walk.period", 4.0)
    show.registry.set("tempo.bpm", 128.0)
    show.recall(Preset("dusk", {"blend.layer.3": 1.0}))           # holds layer 3, the others follow the curve
    steps(show, 1)
    show.registry.set("blend.layer.2", 0.5)                       # the performer grabs layer 2
    show.registry.jump()                                          # no smoothing: the values are there now
    steps(show, 1)
    info = source()
    assert info.seed == 42 and info.preset == "dusk" and info.walk == "slerp, 4 s" and info.bpm == 128.0
    assert len(info.mask) == len(show.renderer.blended.layers) == len(info.faders)
    assert info.mask[2] == 0.5 and info.faders[2] == 0.5          # held layers show their fader's tick
    assert info.mask[3] == 1.0 and info.faders[3] == 1.0
    assert info.faders[0] is None                                 # the curve drives layer 0: no tick
    assert not info.paused and info.fps > 0
    show.registry.set("engine.pause", 1.0)
    show.registry.set("latent.walk.beats", 1.0)
    assert source().paused and source().walk == "slerp, 4 beats"
    assert "PAUSED" in source().lines()[0]
    show.close()


def test_controls_waiting_for_pickup_are_shown_until_they_reach_the_value(tmp_path):
    show = make_show(tmp_path)
    mapping = parse_mapping({"device": {"name": "test", "port": "x"},
                             "midi": [{"control": "cc", "number": 3, "param": "blend.layer.3", "range": [0.0, 1.0],
                                       "takeover": "pickup"}]})
    midi = LiveMidi(show.registry, show.actions)
    adapter = MidiAdapter(mapping, show.registry, show.actions)
    midi.adapters.append(adapter)
    show.midi = midi
    source = OverlaySource(show)
    show.registry.set("blend.layer.3", 0.75)                      # a preset or OSC put the value here
    assert source().pickup == []                                   # the fader has not moved yet: unknown
    adapter.handle(mido.Message("control_change", control=3, value=25))
    waiting = source().pickup
    assert [p.param for p in waiting] == ["blend.layer.3"]
    assert abs(waiting[0].control - unit_position(25, 127)) < 1e-6 and abs(waiting[0].value - 0.75) < 1e-6
    assert "pickup blend.layer.3: move up to 75% (at 20%)" in source().lines()
    assert show.registry.get("blend.layer.3") == 0.75             # a waiting fader does not write
    adapter.handle(mido.Message("control_change", control=3, value=100))   # swept past 0.75: picked up
    assert source().pickup == [] and abs(show.registry.get("blend.layer.3") - unit_position(100, 127)) < 1e-6
    show.close()
