"""The MIDI adapter from messages and raw bytes, without ports."""

from __future__ import annotations

import mido
import pytest

from engine.control.mapping import parse_mapping
from engine.control.midi import (
    MidiAdapter,
    apply_curve,
    binding_position,
    binding_value,
    controller_value,
    relative_delta,
    unit_position,
)
from engine.show.tempo import TempoTracker


def adapter(registry, actions=None, tempo=None, **binding):
    mapping = parse_mapping({"midi": [binding]}, "test.toml")
    return MidiAdapter(mapping, registry, actions, tempo=tempo)


def cc(number, value, channel=0):
    return mido.Message("control_change", channel=channel, control=number, value=value)


def note(number, on=True, channel=0):
    return mido.Message("note_on" if on else "note_off", channel=channel, note=number, velocity=100 if on else 0)


def test_fader_maps_into_overblend_range(registry):
    a = adapter(registry, control="cc", number=0, param="blend.layer.0", range=[-1.0, 2.0], takeover="jump")
    a.handle(cc(0, 0))
    assert registry.get("blend.layer.0") == -1.0
    a.handle(cc(0, 127))
    assert registry.get("blend.layer.0") == 2.0
    a.handle(cc(0, 64))
    assert registry.get("blend.layer.0") == 0.5                   # the centre of the travel, exactly


def test_the_centre_value_is_exactly_half_and_the_ends_are_exact():
    assert (unit_position(0), unit_position(64), unit_position(127)) == (0.0, 0.5, 1.0)
    assert (unit_position(0, 16383), unit_position(8192, 16383), unit_position(16383, 16383)) == (0.0, 0.5, 1.0)
    steps = [unit_position(v) for v in range(128)]
    assert all(b > a for a, b in zip(steps, steps[1:]))            # monotonic, every step counts
    assert all(controller_value(unit_position(v)) == v for v in range(128))
    assert all(controller_value(unit_position(v, 16383), 16383) == v for v in range(0, 16384, 7))


def test_invert_and_curves(registry):
    a = adapter(registry, control="cc", number=1, param="latent.psi", invert=True, takeover="jump")
    a.handle(cc(1, 127))
    assert registry.get("latent.psi") == 0.0
    a = adapter(registry, control="cc", number=2, param="blend.curve.center", curve="exp", takeover="jump")
    a.handle(cc(2, 64))
    assert registry.get("blend.curve.center") < 0.2          # exp: fine control near the bottom
    for curve in ("linear", "exp", "log", "scurve"):
        assert apply_curve(curve, 0.0) == pytest.approx(0.0) and apply_curve(curve, 1.0) == pytest.approx(1.0)
        b = parse_mapping({"midi": [dict(control="cc", number=3, param="x", curve=curve, range=[-1, 2])]}).midi[0]
        for u in (0.1, 0.5, 0.9):
            assert binding_position(b, binding_value(b, u)) == pytest.approx(u, abs=1e-6)


def test_pickup_ignores_fader_until_it_crosses_value(registry):
    registry.set("blend.layer.2", 0.5)
    a = adapter(registry, control="cc", number=2, param="blend.layer.2")
    for v in (0, 10, 30, 50):
        a.handle(cc(2, v))
        assert registry.get("blend.layer.2") == 0.5          # not picked up yet
    a.handle(cc(2, 70))                                        # crossed 64
    assert registry.get("blend.layer.2") == pytest.approx(unit_position(70))
    a.handle(cc(2, 20))
    assert registry.get("blend.layer.2") == pytest.approx(20 / 128)
    registry.set("blend.layer.2", 0.9, ("osc", "127.0.0.1", 9000))   # moved elsewhere: pick up again
    a.handle(cc(2, 30))
    assert registry.get("blend.layer.2") == 0.9


def test_jump_takes_the_first_message(registry):
    registry.set("blend.layer.2", 0.5)
    a = adapter(registry, control="cc", number=2, param="blend.layer.2", takeover="jump")
    a.handle(cc(2, 0))
    assert registry.get("blend.layer.2") == 0.0


@pytest.mark.parametrize("first_lsb", [False, True])
def test_cc14_pairs_combine_in_either_order(registry, first_lsb):
    a = adapter(registry, control="cc14", number=1, param="blend.curve.center", takeover="jump")
    msgs = [cc(1, 0x55), cc(33, 0x2A)]
    for m in reversed(msgs) if first_lsb else msgs:
        a.handle(m)
    assert registry.get("blend.curve.center") == pytest.approx(0.5 + (((0x55 << 7) | 0x2A) - 8192) / 16382)


def test_nrpn_14_bit_and_7_bit(registry):
    a = adapter(registry, control="nrpn", number=300, param="blend.curve.center", takeover="jump")
    msb, lsb = divmod(300, 128)
    a.handle_bytes(bytes([0xB0, 99, msb, 98, lsb, 6, 100]))     # running status; 7-bit data
    assert registry.get("blend.curve.center") == pytest.approx(0.5 + 36 / 126)
    a.handle_bytes(bytes([0xB0, 6, 0x40, 38, 0x00]))             # 14-bit centre
    assert registry.get("blend.curve.center") == 0.5
    a.handle_bytes(bytes([0xB0, 99, 0, 98, 1, 6, 127]))         # another parameter: untouched
    assert registry.get("blend.curve.center") == 0.5


def test_pitchbend_spans_the_range(registry):
    a = adapter(registry, control="pitchbend", channel=2, param="blend.mapping", range=[-1.0, 1.0],
                takeover="jump")
    a.handle(mido.Message("pitchwheel", channel=1, pitch=8191))
    assert registry.get("blend.mapping") == pytest.approx(1.0)
    a.handle(mido.Message("pitchwheel", channel=1, pitch=-8192))
    assert registry.get("blend.mapping") == pytest.approx(-1.0)
    a.handle(mido.Message("pitchwheel", channel=1, pitch=0))     # the wheel at rest: the centre
    assert registry.get("blend.mapping") == 0.0
    a.handle(mido.Message("pitchwheel", channel=0, pitch=8191))  # wrong channel
    assert registry.get("blend.mapping") == 0.0


@pytest.mark.parametrize("mode,up,down", [("relative-twos", 1, 127), ("relative-offset", 65, 63),
                                          ("relative-signbit", 1, 65)])
def test_relative_encoders(registry, mode, up, down):
    assert relative_delta(mode, up) == 1 and relative_delta(mode, down) == -1
    a = adapter(registry, control="cc", number=5, param="blend.curve.center", mode=mode)
    start = registry.get("blend.curve.center")
    for _ in range(4):
        a.handle(cc(5, up))
    assert registry.get("blend.curve.center") == pytest.approx(start + 4 / 128, abs=1e-6)
    a.handle(cc(5, down))
    assert registry.get("blend.curve.center") == pytest.approx(start + 3 / 128, abs=1e-6)


def test_buttons_momentary_toggle_trigger(registry):
    mom = adapter(registry, control="note", number=40, param="engine.pause", button="momentary")
    mom.handle(note(40))
    assert registry.get("engine.pause") == 1.0
    mom.handle(note(40, on=False))
    assert registry.get("engine.pause") == 0.0
    tog = adapter(registry, control="cc", number=41, param="engine.pause", button="toggle")
    tog.handle(cc(41, 127))
    tog.handle(cc(41, 0))
    assert registry.get("engine.pause") == 1.0
    tog.handle(cc(41, 127))
    assert registry.get("engine.pause") == 0.0
    trig = adapter(registry, control="note", number=42, param="latent.next_seed")
    before = registry.snapshot().triggers["latent.next_seed"]
    trig.handle(note(42))
    trig.handle(note(42, on=False))
    trig.handle(note(42))
    assert registry.snapshot().triggers["latent.next_seed"] == before + 2
    seed = adapter(registry, control="note", number=43, param="latent.seed", button="trigger", value=1234)
    seed.handle(note(43))
    assert registry.get("latent.seed") == 1234


def test_preset_panic_tap_and_save_call_actions(registry, actions):
    mapping = parse_mapping({"midi": [
        dict(control="note", number=1, preset="crossover"),
        dict(control="note", number=2, action="panic"),
        dict(control="cc", number=3, action="tap"),
        dict(control="note", number=4, action="save", preset="live"),
    ]})
    a = MidiAdapter(mapping, registry, actions)
    for n in (1, 2, 4):
        a.handle(note(n))
        a.handle(note(n, on=False))
    a.handle(cc(3, 127))
    a.handle(cc(3, 127))          # still held: one tap only
    assert actions.calls == [("recall_preset", "crossover", None), ("panic",), ("save_preset", "live"),
                             ("tap_tempo",)]


def test_channel_filter(registry):
    a = adapter(registry, control="cc", number=7, channel=3, param="latent.psi", takeover="jump")
    a.handle(cc(7, 0, channel=0))
    assert registry.get("latent.psi") == 1.0
    a.handle(cc(7, 0, channel=2))
    assert registry.get("latent.psi") == 0.0


def test_unknown_parameter_is_reported_once_and_skipped(registry, caplog):
    mapping = parse_mapping({"midi": [dict(control="cc", number=9, param="blend.layer.99", takeover="jump"),
                                      dict(control="cc", number=10, param="latent.psi", takeover="jump")]})
    a = MidiAdapter(mapping, registry)
    for v in (1, 2, 3):
        a.handle(cc(9, v))
    a.handle(cc(10, 0))
    assert registry.get("latent.psi") == 0.0
    assert len([r for r in caplog.records if "blend.layer.99" in r.message]) == 1
    assert a.problems and "blend.layer.99" in a.problems[0]


def test_garbage_bytes_and_sysex_do_not_raise(registry):
    a = adapter(registry, control="cc", number=0, param="blend.layer.0", takeover="jump")
    junk = bytes(range(256)) * 4 + bytes([0xF0]) + bytes(5000 * [0x11]) + bytes([0xF7, 0xB0, 0, 127])
    a.handle_bytes(junk)
    assert registry.get("blend.layer.0") == 1.0


def test_smoothing_becomes_the_parameter_slew(registry):
    spec = registry.spec("blend.layer.0")
    adapter(registry, control="cc", number=0, param="blend.layer.0", smoothing=0.25)
    assert registry.smoothing("blend.layer.0") == 0.25
    assert registry.spec("blend.layer.0") is spec                  # the shared spec is not changed
    registry.add(spec)                                             # re-declared, as after a model swap
    assert registry.smoothing("blend.layer.0") == 0.25


def test_midi_clock_sets_bpm(registry):
    times = iter(i * 60.0 / (140 * 24) for i in range(200))
    tempo = TempoTracker()
    mapping = parse_mapping({"midi": [dict(control="clock", param="tempo.bpm")]})
    a = MidiAdapter(mapping, registry, tempo=tempo, time_fn=lambda: next(times))
    a.handle(mido.Message("start"))
    for _ in range(60):
        a.handle(mido.Message("clock"))
    assert tempo.clock_bpm == pytest.approx(140, abs=0.01)
    assert registry.get("tempo.bpm") == pytest.approx(140, abs=0.06)


def test_led_messages_follow_the_parameter(registry):
    mapping = parse_mapping({"midi": [dict(control="note", number=5, channel=2, param="engine.pause",
                                           button="toggle", led=True, led_on=3)]})
    a = MidiAdapter(mapping, registry)
    assert a.led_messages() == [mido.Message("note_on", channel=1, note=5, velocity=0)]
    assert a.led_messages() == []                                  # unchanged: nothing sent
    registry.set("engine.pause", 1.0)
    assert a.led_messages() == [mido.Message("note_on", channel=1, note=5, velocity=3)]


def test_buttons_that_repeat_their_press_fire_once_and_pads_without_release_fire_again(registry, actions):
    now = [10.0]
    mapping = parse_mapping({"midi": [dict(control="cc", number=3, action="tap"),
                                      dict(control="note", number=5, param="latent.next_seed"),
                                      dict(control="cc", number=6, param="engine.pause", button="toggle")]})
    a = MidiAdapter(mapping, registry, actions, time_fn=lambda: now[0])
    before = registry.snapshot().triggers["latent.next_seed"]
    for _ in range(30):                         # held: the controller repeats its press value
        a.handle(cc(3, 127))
        a.handle(note(5))
        a.handle(cc(6, 127))
        now[0] += 0.02
    assert actions.calls == [("tap_tempo",)]
    assert registry.snapshot().triggers["latent.next_seed"] == before + 1
    assert registry.get("engine.pause") == 1.0                 # toggled once, not 30 times
    now[0] += 0.5                               # a pad that sends no release, pressed again later
    a.handle(note(5))
    a.handle(cc(3, 127))
    assert registry.snapshot().triggers["latent.next_seed"] == before + 2
    assert actions.calls == [("tap_tempo",)] * 2


def test_banks_switch_what_a_fader_moves_and_pick_up_where_it_is(registry):
    mapping = parse_mapping({"midi": [
        dict(control="cc", number="0-1", param="blend.layer.{i}", bank="A"),
        dict(control="cc", number="0-1", index="8-9", param="blend.layer.{i}", bank="B"),
        dict(control="note", number=[10, 11], action="bank", bank=["A", "B"], led=True),
        dict(control="note", number=12, action="shift", bank="A"),
    ]}, "banks.toml")
    a = MidiAdapter(mapping, registry)
    assert a.bank == "A"
    for v in range(0, 101, 10):                  # fader 1 up to 100: layer 0 follows
        a.handle(cc(0, v))
    assert registry.get("blend.layer.0") == pytest.approx(unit_position(100))
    a.handle(note(11))                           # bank B: the same fader now moves layer 8 ...
    a.handle(note(11, on=False))
    a.handle(cc(0, 101))
    assert registry.get("blend.layer.8") == 0.0  # ... once it reaches layer 8's value (soft takeover)
    for v in range(100, -1, -10):
        a.handle(cc(0, v))
    assert registry.get("blend.layer.8") == 0.0 and registry.get("blend.layer.0") == pytest.approx(unit_position(100))
    for v in range(0, 65, 8):
        a.handle(cc(0, v))
    assert registry.get("blend.layer.8") == 0.5
    lit = {m.note: m.velocity for m in a.led_messages()}
    assert lit == {10: 0, 11: 127}               # the bank buttons show the bank
    a.handle(note(12))                           # shift held: bank A while held
    a.handle(cc(1, 0))
    a.handle(cc(1, 20))
    assert registry.get("blend.layer.1") == pytest.approx(20 / 128)
    a.handle(note(12, on=False))                 # released: back to bank B
    assert a.bank == "B"
    a.handle(cc(1, 30))
    assert registry.get("blend.layer.1") == pytest.approx(20 / 128) and registry.get("blend.layer.9") == 0.0
