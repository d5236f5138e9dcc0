"""Real virtual MIDI ports through a dummy JACK server: a fake controller (a virtual output port)
plays into netblend's input thread."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import mido
import pytest

from engine.control.mapping import load_mapping, parse_mapping
from engine.control.midi import MidiAdapter, unit_position
from engine.control.midi_ports import BACKEND_LOCK, MidiPorts, MidiPortsConfig
from tests.helpers import send_paced, wait_for

pytestmark = pytest.mark.midi
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture
def controller(jack):
    """A fake controller: a virtual output port with a unique name; yields (backend, name, port)."""
    name = f"fakectl-{uuid.uuid4().hex[:6]}"
    port = jack.open_output(name, virtual=True)
    yield jack, name, port
    port.close()


def connect(jack, name, adapter, rescan=1.0, output=None):
    ports = MidiPorts(MidiPortsConfig(input_pattern=name, output_pattern=output,
                                      backend="mido.backends.rtmidi/UNIX_JACK", rescan=rescan),
                      adapter.handle, led_source=adapter.led_messages).start()
    if not wait_for(lambda: ports.connected):
        ports.close()
        pytest.fail("the input thread did not find the fake controller")
    return ports


def nanokontrol(registry, actions=None):
    mapping = load_mapping(MAPPINGS / "nanokontrol2.toml")
    return mapping, MidiAdapter(mapping, registry, actions)


def test_fader_sweep_on_shipped_mapping_moves_parameter_through_range(controller, registry):
    jack, name, port = controller
    mapping, adapter = nanokontrol(registry)
    ports = connect(jack, name, adapter)
    seen: dict[str, list[float]] = {"blend.layer.0": [], "blend.curve.amount": []}
    try:
        for number, param in ((0, "blend.layer.0"), (16, "blend.curve.amount")):
            binding = next(b for b in mapping.midi if b.number == number and b.control == "cc")
            registry.set(param, binding.range[0])       # start where the fader starts: picked up at once
            for v in range(128):
                send_paced(port, [mido.Message("control_change", control=number, value=v)])
                if v % 16 == 0:
                    time.sleep(0.005)
                    seen[param].append(registry.get(param))
            assert wait_for(lambda p=param, hi=binding.range[1]: registry.get(p) == hi), param
            seen[param].append(registry.get(param))
    finally:
        ports.close()
    assert seen["blend.layer.0"][0] == 0.0 and seen["blend.layer.0"][-1] == 1.0
    curve = seen["blend.curve.amount"]
    assert curve[0] == -1.0 and curve[-1] == 2.0                                    # overblend range
    assert curve == sorted(curve) and len(set(curve)) > 4


def test_pickup_ignores_fader_until_it_crosses_value(controller, registry):
    jack, name, port = controller
    _, adapter = nanokontrol(registry)
    registry.set("blend.layer.3", 0.6)
    ports = connect(jack, name, adapter)
    try:
        send_paced(port, [mido.Message("control_change", control=3, value=v) for v in range(0, 60, 4)])
        time.sleep(0.2)
        assert registry.get("blend.layer.3") == 0.6
        send_paced(port, [mido.Message("control_change", control=3, value=v) for v in range(60, 100, 4)])
        assert wait_for(lambda: registry.get("blend.layer.3") == pytest.approx(unit_position(96)))
    finally:
        ports.close()


def test_cc14_pairs_combine_over_a_real_port(controller, registry):
    jack, name, port = controller
    mapping = parse_mapping({"midi": [dict(control="cc14", number=1, param="blend.curve.center",
                                           takeover="jump")]}, "hires.toml")
    adapter = MidiAdapter(mapping, registry)
    ports = connect(jack, name, adapter)
    try:
        send_paced(port, [mido.Message("control_change", control=1, value=100),
                          mido.Message("control_change", control=33, value=77)])
        expected = unit_position((100 << 7) | 77, 16383)
        assert wait_for(lambda: registry.get("blend.curve.center") == pytest.approx(expected))
    finally:
        ports.close()


def test_note_recalls_a_preset(controller, registry, actions):
    jack, name, port = controller
    mapping = parse_mapping({"midi": [dict(control="note", channel=10, number=36, preset="crossover-fine")]})
    ports = connect(jack, name, MidiAdapter(mapping, registry, actions))
    try:
        port.send(mido.Message("note_on", channel=9, note=36, velocity=100))
        port.send(mido.Message("note_off", channel=9, note=36))
        assert wait_for(lambda: actions.calls)
        time.sleep(0.05)
    finally:
        ports.close()
    assert actions.calls == [("recall_preset", "crossover-fine", None)]


def test_unplug_and_replug_reconnects(controller, registry):
    jack, name, port = controller
    _, adapter = nanokontrol(registry)
    ports = connect(jack, name, adapter, rescan=0.2)
    try:
        port.close()                                           # unplug
        assert wait_for(lambda: not ports.connected), "the vanished port was not noticed"
        replugged = jack.open_output(name, virtual=True)       # plug back in
        try:
            assert wait_for(lambda: ports.connected and ports.connects == 2)
            registry.set("blend.layer.1", 0.0)
            send_paced(replugged, [mido.Message("control_change", control=1, value=v) for v in (0, 40, 80)])
            assert wait_for(lambda: registry.get("blend.layer.1") == pytest.approx(unit_position(80)))
        finally:
            replugged.close()
    finally:
        ports.close()
    assert ports.errors == 0


def test_sysex_flood_and_garbage_do_not_kill_the_input(controller, registry):
    jack, name, port = controller
    _, adapter = nanokontrol(registry)
    ports = connect(jack, name, adapter)
    try:
        flood = [mido.Message("sysex", data=[i % 128] * 200) for i in range(300)]
        flood += [mido.Message("polytouch", note=1, value=2), mido.Message("songpos", pos=3),
                  mido.Message("control_change", channel=15, control=120, value=0)]
        send_paced(port, flood, every=4, pause=0.003)
        registry.set("blend.layer.2", 0.0)
        send_paced(port, [mido.Message("control_change", control=2, value=v) for v in (0, 64, 127)])
        assert wait_for(lambda: registry.get("blend.layer.2") == 1.0)
        assert ports.connected
    finally:
        ports.close()


class VirtualLedInput:
    """The device's LED input: a polled virtual rtmidi input (no Python callback on JACK's thread)."""

    def __init__(self, name):
        import rtmidi
        with BACKEND_LOCK:
            self._rt = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="fakedevice")
            self._rt.open_virtual_port(name)
        self.received: list[mido.Message] = []

    def values(self, control):
        while (item := self._rt.get_message()) is not None:
            self.received.append(mido.Message.from_bytes(item[0]))
        return [m.value for m in self.received if m.type == "control_change" and m.control == control]

    def close(self):
        with BACKEND_LOCK:
            self._rt.close_port()
            self._rt.delete()


def test_leds_follow_the_parameter(jack, registry):
    name = f"fakeled-{uuid.uuid4().hex[:6]}"
    device_in = VirtualLedInput(name)
    device_out = jack.open_output(name, virtual=True)
    mapping, adapter = nanokontrol(registry)
    ports = connect(jack, name, adapter, output=name)
    try:
        assert wait_for(lambda: device_in.values(41) == [0])          # the initial state on connect
        send_paced(device_out, [mido.Message("control_change", control=41, value=127),
                                mido.Message("control_change", control=41, value=0)])
        assert wait_for(lambda: registry.get("engine.pause") == 1.0)
        assert wait_for(lambda: device_in.values(41) == [0, 127])
    finally:
        ports.close()
        device_in.close()
        device_out.close()


def test_the_jack_teardown_is_bounded_even_when_the_server_hangs():
    """The fixture's teardown: a probe close that never returns and a server that ignores SIGTERM
    cost a few seconds, not minutes."""
    import subprocess
    import sys
    import threading

    from tests.control.conftest import _stop_jack

    stuck = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
                              "time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    assert stuck.stdout.readline().strip() == "ready"

    class HungProbe:
        released = threading.Event()

        def close(self):
            self.released.wait(600)

    start = time.monotonic()
    _stop_jack(stuck, HungProbe(), grace=0.5)
    assert time.monotonic() - start < 3.0
    assert stuck.poll() is not None               # killed after ignoring SIGTERM
    HungProbe.released.set()
