"""The OSC adapter from raw bytes, no sockets: addresses, list form, aliases, actions, bad input."""

from __future__ import annotations

import struct
import time
from types import SimpleNamespace

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder, build_msg

from engine.control.mapping import OscAlias
from engine.control.osc import OscAdapter, load_osc_aliases
from engine.core.params import ParamRegistry, ParamSpec
from engine.errors import MappingError
from tests.helpers import RecordingActions

TD = ("127.0.0.1", 50123)   # a TouchDesigner OSC Out CHOP's sending address


def make_registry(layers: int = 4) -> ParamRegistry:
    reg = ParamRegistry()
    reg.add_all(ParamSpec(f"blend.layer.{i}", 0.0, -2.0, 3.0) for i in range(layers))
    reg.add(ParamSpec("blend.curve.center", 0.5, 0.0, 1.0))
    reg.add(ParamSpec("blend.curve.direction", 0.0, kind="choice", choices=("up", "down")))
    reg.add(ParamSpec("latent.seed", 0.0, 0.0, 2**31 - 1, kind="int"))
    reg.add(ParamSpec("engine.pause", 0.0, kind="bool"))
    reg.add(ParamSpec("blend.panic", kind="trigger"))
    reg.add(ParamSpec("tempo.tap", kind="trigger"))
    reg.drain_changes()
    return reg


def msg(address: str, *args, types: str | None = None) -> bytes:
    b = OscMessageBuilder(address)
    for i, a in enumerate(args):
        b.add_arg(a, types[i] if types else None)
    return b.build().dgram


def bundle(*messages: bytes, timetag: float) -> bytes:
    """An OSC bundle as TouchDesigner sends it: an NTP timetag (here ``timetag`` Unix seconds), then
    each message prefixed by its size."""
    ntp = timetag + 2208988800.0
    seconds = int(ntp)
    out = b"#bundle\x00" + struct.pack(">II", seconds, int((ntp - seconds) * 2**32))
    for m in messages:
        out += struct.pack(">i", len(m)) + m
    return out


def test_canonical_address_sets_the_parameter_with_the_senders_source():
    reg = make_registry()
    osc = OscAdapter(reg)
    osc.handle_packet(build_msg("/blend/layer/3", 0.7).dgram, TD)
    assert reg.get("blend.layer.3") == pytest.approx(0.7)
    assert reg.drain_changes()["blend.layer.3"][1] == ("osc", "127.0.0.1", 50123)


def test_ints_bools_and_choice_names_are_accepted():
    reg = make_registry()
    osc = OscAdapter(reg)
    osc.handle_packet(msg("/latent/seed", 42, types="i"), TD)
    osc.handle_packet(msg("/engine/pause", True, types="T"), TD)
    osc.handle_packet(msg("/blend/curve/direction", "down"), TD)
    assert (reg.get("latent.seed"), reg.get("engine.pause"), reg.get("blend.curve.direction")) == (42, 1, 1)
    osc.handle_packet(msg("/blend/curve/direction", 0.0), TD)
    assert reg.get("blend.curve.direction") == 0


def test_list_form_sets_numbered_parameters_in_order_and_ignores_extra_values():
    reg = make_registry(layers=4)
    osc = OscAdapter(reg)
    osc.handle_packet(msg("/blend/layer", 0.1, 0.2, 0.3, 0.4, 9.0, 9.0), TD)
    assert [reg.get(f"blend.layer.{i}") for i in range(4)] == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_future_timetagged_bundle_applies_at_once():
    reg = make_registry()
    osc = OscAdapter(reg)
    data = bundle(msg("/blend/layer/0", 0.25), msg("/blend/layer/1", 0.5), timetag=time.time() + 30.0)
    start = time.perf_counter()
    osc.handle_packet(data, TD)
    assert time.perf_counter() - start < 0.5
    assert (reg.get("blend.layer.0"), reg.get("blend.layer.1")) == (0.25, 0.5)


def test_out_of_range_is_clamped_and_bad_values_keep_the_last_good_value():
    reg = make_registry()
    osc = OscAdapter(reg)
    osc.handle_packet(msg("/blend/layer/0", 0.5), TD)
    osc.handle_packet(msg("/blend/layer/0", 99.0), TD)
    assert reg.get("blend.layer.0") == 3.0
    osc.handle_packet(msg("/blend/layer/0", 0.5), TD)
    for bad in (msg("/blend/layer/0", float("nan")), msg("/blend/layer/0", float("inf")),
                msg("/blend/layer/0", "loud"), msg("/blend/layer/0"),
                msg("/blend/layer/0", b"\x00", types="b"),
                msg("/blend/layer", "x", float("nan"))):
        osc.handle_packet(bad, TD)
    assert reg.get("blend.layer.0") == 0.5
    assert osc.stats.rejected == 6


def test_unknown_addresses_are_counted_and_logged_once(caplog):
    osc = OscAdapter(make_registry())
    with caplog.at_level("WARNING", logger="netblend.osc"):
        for _ in range(5):
            osc.handle_packet(msg("/no/such/thing", 1.0), TD)
    assert osc.stats.unknown == 5
    assert osc.stats.unknown_addresses == {"/no/such/thing": 5}
    assert sum("/no/such/thing" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("data", [b"", b"garbage", b"/blend/layer/0\x00\x00", b"#bundle\x00\x01",
                                  b"/blend/layer/0\x00\x00,f\x00\x00\x01", bytes(range(256))])
def test_malformed_packets_never_raise(data):
    reg = make_registry()
    osc = OscAdapter(reg)
    osc.handle_packet(data, TD)
    osc.handle_packet(msg("/blend/layer/2", 0.3), TD)
    assert reg.get("blend.layer.2") == pytest.approx(0.3)


def test_actions_fire_on_press_only():
    actions = RecordingActions()
    osc = OscAdapter(make_registry(), actions)
    osc.handle_packet(msg("/preset/recall", "dusk"), TD)
    osc.handle_packet(msg("/preset/recall", "dawn", 4.0), TD)
    osc.handle_packet(msg("/preset/recall", "dawn", float("nan")), TD)
    osc.handle_packet(msg("/preset/save", "mine"), TD)
    osc.handle_packet(msg("/tempo/tap", 1.0), TD)
    osc.handle_packet(msg("/tempo/tap", 0.0), TD)        # button release: no second tap
    osc.handle_packet(msg("/tempo/tap"), TD)
    osc.handle_packet(msg("/blend/panic", 1, types="i"), TD)
    osc.handle_packet(msg("/preset/save", 3.0), TD)      # no name: refused
    assert actions.calls == [("recall_preset", "dusk", None), ("recall_preset", "dawn", 4.0),
                             ("recall_preset", "dawn", None), ("save_preset", "mine"), ("tap_tempo",),
                             ("tap_tempo",), ("panic",)]
    assert osc.stats.rejected == 1


def test_aliases_scale_into_their_range_and_reach_actions():
    reg = make_registry()
    actions = RecordingActions()
    osc = OscAdapter(reg, actions, [OscAlias("/td/fader1", "blend.layer.3", (-1.0, 2.0)),
                                    OscAlias("/td/raw", "blend.curve.center"),
                                    OscAlias("/td/all", "blend.layer"),
                                    OscAlias("/td/kill", "blend.panic")])
    osc.handle_packet(msg("/td/fader1", 0.5), TD)
    osc.handle_packet(msg("/td/raw", 0.25), TD)
    osc.handle_packet(msg("/td/kill", 1.0), TD)
    assert reg.get("blend.layer.3") == pytest.approx(0.5)
    assert reg.get("blend.curve.center") == pytest.approx(0.25)
    assert actions.calls == [("panic",)]
    osc.handle_packet(msg("/td/all", 1.0, 0.0), TD)
    assert (reg.get("blend.layer.0"), reg.get("blend.layer.1")) == (1.0, 0.0)


def test_trigger_parameters_fire_once_per_button_press():
    reg = make_registry()
    reg.add(ParamSpec("latent.next_seed", kind="trigger"))
    osc = OscAdapter(reg)
    for value in (1.0, 0.0, 1.0, 0.0):                      # press, release, press, release
        osc.handle_packet(msg("/latent/next_seed", value), TD)
    osc.handle_packet(msg("/latent/next_seed"), TD)         # no argument: a press
    assert reg.snapshot().triggers["latent.next_seed"] == 3


def test_shipped_touchdesigner_mapping_scales_sliders_into_ranges():
    from pathlib import Path

    from engine.show.catalog import show_params

    reg = ParamRegistry()
    reg.add_all(show_params(18, SimpleNamespace(num_ws=18, c_dim=0, family="stylegan2")))
    path = Path(__file__).resolve().parents[2] / "mappings" / "touchdesigner.toml"
    osc = OscAdapter(reg, aliases=load_osc_aliases(path))
    osc.handle_packet(msg("/td/overblend", 1.0), TD)
    assert reg.get("blend.curve.amount") == 2.0
    osc.handle_packet(msg("/td/psi", 0.5), TD)
    assert reg.get("latent.psi") == pytest.approx(0.75)
    osc.handle_packet(msg("/td/seed", 1234, types="i"), TD)
    assert reg.get("latent.seed") == 1234
    assert osc.stats.unknown == osc.stats.rejected == 0


def test_alias_to_an_unknown_parameter_is_a_clear_error():
    with pytest.raises(MappingError, match="blend.nope"):
        OscAdapter(make_registry(), aliases=[OscAlias("/x", "blend.nope")])


def test_osc_aliases_are_read_from_a_mapping_file(tmp_path):
    path = tmp_path / "td.toml"
    path.write_text('[device]\nname = "TD"\n\n[[osc]]\naddress = "/td/fader1"\nparam = "blend.layer.3"\n'
                    'range = [0.0, 2.0]\n\n[[osc]]\naddress = "/td/seed"\nparam = "latent.seed"\n')
    expected = [OscAlias("/td/fader1", "blend.layer.3", (0.0, 2.0)), OscAlias("/td/seed", "latent.seed")]
    assert load_osc_aliases(path) == expected


@pytest.mark.parametrize("body, problem", [
    ('[[osc]]\nparam = "x"\n', "address"),
    ('[[osc]]\naddress = "/x"\n', "param"),
    ('[[osc]]\naddress = "/x"\nparam = "x"\nrange = [1]\n', "range"),
    ("[[osc]\n", "TOML"),
])
def test_bad_osc_tables_name_the_problem(tmp_path, body, problem):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(MappingError, match=problem):
        load_osc_aliases(path)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_held_button_sent_every_cook_fires_once():
    """TouchDesigner's OSC Out CHOP with Send Events Every Cook repeats 1 at 60 Hz while a button is held:
    one tap, one seed, however long it is held; the release re-arms it."""
    clock = FakeTime()
    reg = make_registry()
    reg.add(ParamSpec("latent.next_seed", kind="trigger"))
    actions = RecordingActions()
    osc = OscAdapter(reg, actions, clock=clock)
    for _ in range(60):                                       # held for one second
        osc.handle_packet(msg("/tempo/tap", 1.0), TD)
        osc.handle_packet(msg("/latent/next_seed", 1.0), TD)
        clock.now += 1 / 60
    osc.handle_packet(msg("/tempo/tap", 0.0), TD)            # release ...
    osc.handle_packet(msg("/tempo/tap", 1.0), TD)            # ... and a second press
    assert actions.calls == [("tap_tempo",), ("tap_tempo",)]
    assert reg.snapshot().triggers["latent.next_seed"] == 1


def test_a_sender_that_never_releases_can_press_again_after_a_pause():
    clock = FakeTime()
    actions = RecordingActions()
    osc = OscAdapter(make_registry(), actions, clock=clock)
    osc.handle_packet(msg("/tempo/tap", 1.0), TD)
    clock.now += 0.1
    osc.handle_packet(msg("/tempo/tap", 1.0), TD)            # within the re-arm time: the same press
    clock.now += 0.5                                           # silence: the next 1 is a new press
    osc.handle_packet(msg("/tempo/tap", 1.0), TD)
    osc.handle_packet(msg("/tempo/tap"), TD)                  # a bang always fires
    osc.handle_packet(msg("/tempo/tap"), TD)
    assert actions.calls == [("tap_tempo",)] * 4


def test_presses_are_per_sender():
    actions = RecordingActions()
    osc = OscAdapter(make_registry(), actions, clock=FakeTime())
    for sender in (TD, ("127.0.0.1", 50124), TD, ("10.0.0.9", 50123)):
        osc.handle_packet(msg("/blend/panic", 1.0), sender)
    assert actions.calls == [("panic",)] * 3


def test_presses_within_one_turn_all_count_up_to_a_bound():
    from engine.control.osc_packets import MAX_EVENTS_PER_TURN

    reg = make_registry()
    reg.add(ParamSpec("latent.next_seed", kind="trigger"))
    osc = OscAdapter(reg, clock=FakeTime())
    presses = [msg("/latent/next_seed", v) for _ in range(10) for v in (1.0, 0.0)]
    osc.handle_datagrams([(data, TD) for data in presses])    # ten presses in one turn (5 ms)
    assert reg.snapshot().triggers["latent.next_seed"] == 10
    osc.handle_datagrams([(data, TD) for data in presses * 100])   # 1000 presses: bounded
    assert reg.snapshot().triggers["latent.next_seed"] == 10 + MAX_EVENTS_PER_TURN // 2
    assert osc.stats.dropped_presses == 2000 - MAX_EVENTS_PER_TURN


def test_one_turn_keeps_the_newest_value_per_address_and_the_order_between_addresses():
    reg = make_registry()
    osc = OscAdapter(reg)
    turn = [msg("/blend/layer/1", v / 100) for v in range(100)]
    turn += [msg("/blend/layer", 0.5, 0.5), msg("/blend/layer/0", 0.9)]          # a list, then a single value
    turn += [bundle(msg("/blend/layer/3", 0.1), msg("/blend/layer/3", 0.2), timetag=time.time() + 5)]
    osc.handle_datagrams([(data, TD) for data in turn])
    assert (reg.get("blend.layer.0"), reg.get("blend.layer.1")) == (pytest.approx(0.9), pytest.approx(0.5))
    assert reg.get("blend.layer.3") == pytest.approx(0.2)
    assert osc.stats.superseded == 99 + 1 and osc.stats.packets == 103


def test_a_real_typo_is_logged_with_did_you_mean_even_after_junk(caplog):
    """Junk addresses and malformed packets have their own log budgets: a typo after them is still
    logged, with the address it was meant to be."""
    osc = OscAdapter(make_registry())
    with caplog.at_level("WARNING", logger="netblend.osc"):
        for i in range(40):
            osc.handle_packet(msg(f"/junk/{i}", 1.0), TD)
        for _ in range(50):
            osc.handle_packet(b"not osc!", TD)
        osc.handle_packet(msg("/blend/layr/3", 0.5), TD)
    lines = [r.getMessage() for r in caplog.records]
    assert any("/blend/layr/3" in line and "did you mean /blend/layer/3" in line for line in lines)
    assert sum("/junk/" in line for line in lines) <= 16
    assert sum("malformed" in line for line in lines) <= 5


def test_a_typo_that_keeps_arriving_is_found_during_a_random_address_flood(caplog):
    clock = FakeTime()
    osc = OscAdapter(make_registry(), clock=clock)
    with caplog.at_level("WARNING", logger="netblend.osc"):
        for i in range(2000):                                   # far more than a second's lookups
            osc.handle_packet(msg(f"/x{i}/{i % 7}", 1.0), TD)
        osc.handle_packet(msg("/blend/curve/centre", 0.5), TD)
        clock.now += 1.0                                        # the fader moves again a second later
        osc.handle_packet(msg("/blend/curve/centre", 0.6), TD)
    assert any("did you mean /blend/curve/center" in r.getMessage() for r in caplog.records)
