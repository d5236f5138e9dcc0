"""OSC feedback over real UDP: changed values arrive, the sender's own moves are not echoed back,
bursts are throttled to the latest value, /engine/fps arrives about once per interval."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from engine.control.feedback import FeedbackSender
from engine.control.osc import OscAdapter
from engine.control.osc_server import OscServer, OscServerConfig
from engine.core.params import ChangeFanout, ParamRegistry, ParamSpec


def make_registry() -> ParamRegistry:
    reg = ParamRegistry()
    reg.add_all(ParamSpec(f"blend.layer.{i}", 0.0, -2.0, 3.0) for i in range(4))
    reg.add(ParamSpec("blend.panic", kind="trigger"))
    reg.add(ParamSpec("engine.fps", 0.0, 0.0, 1000.0))
    return reg


def receive(sock: socket.socket, seconds: float) -> list[tuple[str, tuple]]:
    """Every OSC message that arrives at ``sock`` within ``seconds``."""
    out = []
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            break
        m = OscMessage(data)
        out.append((m.address, tuple(m.params)))
    return out


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def test_changed_values_arrive_but_the_setters_own_moves_do_not_come_back(listener):
    """A controller that sends and listens on one port: its fader is not echoed; other changes arrive."""
    reg = make_registry()
    with OscServer(OscAdapter(reg), OscServerConfig(port=0)) as server, \
            FeedbackSender(reg, listener.getsockname(), frame_rate=100.0, fps_interval=60.0):
        listener.sendto(build_msg("/blend/layer/0", 0.5).dgram, server.address)   # the controller's move
        deadline = time.perf_counter() + 2.0
        while reg.get("blend.layer.0") != pytest.approx(0.5) and time.perf_counter() < deadline:
            time.sleep(0.005)
        reg.set("blend.layer.1", 0.25, ("midi", "nanoKONTROL2"))                    # a move elsewhere
        reg.set("blend.layer.2", 1.5, ("osc", "127.0.0.1", 1))                     # another OSC sender
        reg.set("blend.panic", 1.0)                                                 # an event, not state
        got = receive(listener, 0.5)
    addresses = [a for a, _ in got]
    assert ("/blend/layer/1", (0.25,)) in got
    assert ("/blend/layer/2", (1.5,)) in got
    assert "/blend/layer/0" not in addresses
    assert "/blend/panic" not in addresses


def test_a_burst_between_frames_sends_only_the_latest_value(listener):
    reg = make_registry()
    with FeedbackSender(reg, listener.getsockname(), frame_rate=20.0, fps_interval=60.0) as fb:
        start = time.perf_counter()
        for i in range(2000):
            reg.set("blend.layer.3", i / 1000.0)
        elapsed = time.perf_counter() - start
        got = receive(listener, 0.3)
    values = [v[0] for a, v in got if a == "/blend/layer/3"]
    assert values[-1] == pytest.approx(1.999)
    assert len(values) <= 2 + elapsed * 20.0 * 1.5   # at most one per frame period
    assert fb.sent == len(got)


def test_engine_fps_is_sent_about_once_per_interval(listener):
    reg = make_registry()
    with FeedbackSender(reg, listener.getsockname(), frame_rate=60.0, fps_interval=0.25,
                        fps_source=lambda: 59.5):
        got = receive(listener, 1.1)
    fps = [v for a, v in got if a == "/engine/fps"]
    assert 3 <= len(fps) <= 6
    assert fps[0] == (59.5,)


def test_engine_fps_from_the_registry_is_not_sent_as_a_change(listener):
    reg = make_registry()
    fb = FeedbackSender(reg, listener.getsockname())
    try:
        reg.set("engine.fps", 30.0)
        assert fb.send_changes() == 0
        assert fb.send_fps()
        assert receive(listener, 0.3) == [("/engine/fps", (30.0,))]
    finally:
        fb.stop()


def test_fanout_gives_every_subscriber_every_change():
    reg = make_registry()
    fan = ChangeFanout(reg)
    osc, leds = fan.subscribe(), fan.subscribe()
    reg.set("blend.layer.0", 1.0, "a")
    assert osc() == {"blend.layer.0": (1.0, "a")}
    reg.set("blend.layer.1", 2.0, "b")
    assert leds() == {"blend.layer.0": (1.0, "a"), "blend.layer.1": (2.0, "b")}
    assert osc() == {"blend.layer.1": (2.0, "b")}
    assert osc() == {} and leds() == {}
