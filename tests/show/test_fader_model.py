"""The fader model as a performer meets it: with the demo's crossover curve on, a per-layer fader (OSC,
the TouchDesigner alias, the OSC list form, a nanoKONTROL2 fader) sets its layer's t exactly, the
other layers keep following the curve, and panic, release, presets and morphs hand layers back."""

from __future__ import annotations

import socket
from pathlib import Path

import mido
import pytest
from pythonosc.osc_message_builder import build_msg

from engine.blend.masks import curve_of
from engine.control.mapping import load_mapping
from engine.control.midi import MidiAdapter
from engine.models.demo import DEMO_SHOW
from engine.show import OscConfig, TransportConfig, start_transports
from tests.helpers import make_show, steps, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_show(tmp_path):
    """A show on the tiny pair with the demo's values: the crossover curve on (amount 1)."""
    show = make_show(tmp_path)
    show.registry.update(DEMO_SHOW, source=("show", "demo"))
    show.registry.jump()
    steps(show, 1)
    yield show
    show.close()


def curve_now(show) -> list[float]:
    return curve_of(show.registry.targets(), show.renderer.num_layers)


def free_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def osc_input(show, osc_map=None):
    """Open the show's OSC input on a real UDP port; returns send(messages), which sends each
    message from one socket and waits until the show has applied it."""
    maps = [str(osc_map)] if osc_map else []
    start_transports(show, TransportConfig(osc=OscConfig(port=free_port(), maps=maps), autosave=0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    show.add_closer(sender.close)

    def send(messages):
        for address, value in messages:
            done = show.osc.stats.applied + 1
            sender.sendto(build_msg(address, value).dgram, show.osc_address)
            assert wait_for(lambda done=done: show.osc.stats.applied >= done) is not None, address

    return send


def test_fader_3_at_one_with_the_demo_curve_on_is_exactly_b_and_the_overlay_has_both(demo_show):
    show = demo_show
    before = show.renderer.blend_state.layers
    assert 0.0 < before[3] < 1.0                                   # the demo's curve puts layer 3 in between
    osc_input(show)([("/blend/layer/3", 1.0)])
    steps(show, 1)
    state = show.renderer.blend_state
    assert state.layers[3] == 1.0                                  # B, not curve + 1 (overblend)
    c = curve_now(show)
    assert all(state.layers[i] == pytest.approx(c[i]) for i in range(len(c)) if i != 3)
    assert state.faders[3] == 1.0 and state.holds[3] == 1.0       # what the overlay shows next to t
    assert state.holds[2] == 0.0 and state.mode == "absolute"
    assert show.registry.get("blend.hold.3") == 1.0          # and what feedback / the page show


def test_the_touchdesigner_alias_and_the_list_form_mean_what_they_say(demo_show):
    show = demo_show
    send = osc_input(show, ROOT / "mappings" / "touchdesigner.toml")
    send([("/td/layer/5", 0.0), ("/blend/layer", [0.0, 0.5, 1.0])])
    steps(show, 1)
    state, c = show.renderer.blend_state, curve_now(show)
    assert state.layers[:3] == (0.0, 0.5, 1.0) and state.layers[5] == 0.0   # 0 = A even where the curve is B
    assert state.layers[4] == pytest.approx(c[4]) and state.layers[7] == pytest.approx(c[7])


def test_a_nanokontrol2_fader_picks_its_layer_up_and_sets_it(demo_show):
    show = demo_show
    midi = MidiAdapter(load_mapping(ROOT / "mappings" / "nanokontrol2.toml"), show.registry, show.actions)
    for value in (0, 40, 127):                                     # the fader from the bottom to the top
        midi.handle(mido.Message("control_change", control=3, value=value))
    steps(show, 10)                                                # a fader glides (its smoothing) once held
    assert show.renderer.blend_state.layers[3] == 1.0


def test_panic_release_and_presets_hand_the_layers_back_to_the_curve(demo_show):
    show = demo_show
    send = osc_input(show)
    send([("/blend/layer/6", 0.0), ("/blend/layer/2", 1.0)])
    steps(show, 1)
    assert show.renderer.blend_state.layers[6] == 0.0
    send([("/blend/release", 1.0)])
    steps(show, 2)                                                 # pressed in frame 1, back in frame 2
    for _ in range(20):                                            # the holds glide out (fader smoothing)
        steps(show, 1)
    state, c = show.renderer.blend_state, curve_now(show)
    assert state.layers == pytest.approx(tuple(c)) and state.holds == (0.0,) * len(c)
    assert show.registry.get("blend.layer.6") == pytest.approx(c[6])   # a released fader sits at its layer

    show.registry.set("blend.layer.6", 0.0, ("midi", "fader"))
    show.presets.folder.mkdir(parents=True, exist_ok=True)
    (show.presets.folder / "ramp2.toml").write_text('version = 2\nmask = "ramp_up"\n')
    show.recall("ramp2")
    steps(show, 1)
    assert show.renderer.blend_state.layers == pytest.approx(tuple(i / 7 for i in range(8)))
    show.actions.panic()                                           # back to the last preset, not to A
    show.registry.set("blend.layer.1", 1.0, ("midi", "fader"))
    steps(show, 2)
    assert show.renderer.blend_state.layers == pytest.approx(tuple(i / 7 for i in range(8)))


def test_a_morph_from_held_faders_to_a_curve_preset_glides(demo_show):
    show = demo_show
    show.presets.folder.mkdir(parents=True, exist_ok=True)
    (show.presets.folder / "flat.toml").write_text('version = 2\nmask = "interp=1"\n')
    (show.presets.folder / "swap.toml").write_text('version = 2\nmask = "crossover@16"\n')
    show.recall("flat")
    steps(show, 1)
    assert show.renderer.blend_state.layers == (1.0,) * 8
    show.recall("swap", morph=1.0)                                 # 10 frames at 10 fps
    seen = []
    for _ in range(12):
        steps(show, 1)
        seen.append(show.renderer.blend_state.layers)
    assert seen[-1] == (0.0,) * 3 + (1.0,) * 5                     # landed: A below 16 px, B from 16 px
    jumps = [max(abs(a - b) for a, b in zip(x, y)) for x, y in zip(seen, seen[1:])]
    assert max(jumps) < 0.3                                        # no layer jumps: the holds glide too


def test_offset_mode_keeps_the_old_additive_faders(demo_show):
    show = demo_show
    show.registry.set("blend.layer.mode", "offset")
    show.registry.set("blend.layer.3", 0.25)
    show.registry.jump()
    steps(show, 1)
    c = curve_now(show)
    assert show.renderer.blend_state.layers[3] == pytest.approx(c[3] + 0.25)
    assert show.renderer.blend_state.mode == "offset"


def test_the_demo_starts_with_every_fader_where_its_layer_is(tmp_path):
    """`netblend run` without models: the demo's curve drives every layer and each fader sits at its
    layer's t, so a controller's soft takeover picks a layer up without a jump."""
    from engine.core.clock import FakeClock
    from engine.show import ShowConfig, assemble

    show = assemble(ShowConfig(presets_dir=str(tmp_path), clock=FakeClock(fps=10)))
    try:
        steps(show, 1)
        state = show.renderer.blend_state
        assert state.holds == (0.0,) * len(state.layers) and len(set(state.layers)) > 2   # on the curve
        assert state.faders == pytest.approx(state.layers)
    finally:
        show.close()
