"""A running engine answers /engine/describe (its address table) and /engine/dump (every value) over
real UDP on 127.0.0.1, to the feedback target or to the sender."""

from __future__ import annotations

import socket

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from engine.control.osc import OscAdapter
from engine.control.osc_query import OscReplies
from engine.control.osc_server import OscServer, OscServerConfig
from engine.control.osc_table import address_rows, safety_clamped
from tests.control.conftest import engine_registry


def listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def receive_until(sock: socket.socket, last: str) -> list[OscMessage]:
    out = []
    while True:
        msg = OscMessage(sock.recv(65536))
        out.append(msg)
        if msg.address == last:
            return out


@pytest.fixture
def engine():
    """A registry like a running show's, and an OSC server whose feedback goes to a listener."""
    reg = engine_registry(18)
    feedback = listener()
    adapter = OscAdapter(reg, replies=OscReplies(feedback=feedback.getsockname(), fps_source=lambda: 29.5,
                                                 min_interval=0.0))
    with OscServer(adapter, OscServerConfig(port=0)) as server:
        client = listener()
        try:
            yield reg, server, client, feedback
        finally:
            client.close()
            feedback.close()


def test_describe_sends_the_table_to_the_feedback_target(engine):
    reg, server, client, feedback = engine
    client.sendto(build_msg("/engine/describe", []).dgram, server.address)
    got = receive_until(feedback, "/engine/describe/done")
    rows = {m.params[0]: m.params for m in got[:-1]}
    assert got[-1].params == [len(got) - 1] == [len(address_rows(reg))]
    assert rows["/blend/layer/17"][1:4] == ["blend.layer.17", "f", "-2..3"]
    assert rows["/latent/walk/mode"][3] == "off|lerp|slerp|noise|circle|random"


def test_describe_as_json_to_the_sender_itself(engine):
    import json

    reg, server, client, _ = engine
    client.sendto(build_msg("/engine/describe", ["json", "sender"]).dgram, server.address)
    [reply] = receive_until(client, "/engine/describe/json")
    table = {row["address"]: row for row in json.loads(reply.params[0])}
    assert table["/blend/layer/0"]["accepts"] == [-10, 11] and table["/engine/dump"]["kind"] == "action"


def test_dump_tells_a_late_listener_every_value_including_defaults(engine):
    reg, server, client, feedback = engine
    reg.set("blend.layer.2", 0.4)
    reg.set("latent.walk.mode", "noise")
    client.sendto(build_msg("/engine/dump", []).dgram, server.address)
    got = {m.address: m.params[0] for m in receive_until(feedback, "/engine/dump/done")}
    assert got["/blend/layer/2"] == pytest.approx(0.4)
    assert got["/blend/curve/center"] == pytest.approx(0.5)              # still at its default
    assert got["/latent/walk/mode"] == 3.0                                # an OSC In CHOP reads numbers
    assert got["/engine/fps"] == pytest.approx(29.5)
    assert "/blend/panic" not in got                                      # triggers are events, not state
    values = [s for s in reg if s.kind != "trigger"]
    assert len(got) == len(values) + 2                                    # + fps and done
    client.sendto(build_msg("/engine/dump", ["names"]).dgram, server.address)
    named = {m.address: m.params[0] for m in receive_until(feedback, "/engine/dump/done")}
    assert named["/latent/walk/mode"] == "noise" and named["/blend/curve/direction"] == "up"


def test_answers_are_rate_limited():
    reg = engine_registry(4)
    sent = []
    replies = OscReplies(min_interval=0.25, clock=lambda: 5.0)
    replies.send = lambda data, target: sent.append(target)
    adapter = OscAdapter(reg, replies=replies)
    for _ in range(100):                                          # a spoofed flood of requests
        adapter.handle_message("/engine/dump", [], ("10.0.0.7", 4000))
    assert replies.refused == 99 and sent and set(sent) == {("10.0.0.7", 4000)}


def test_the_safety_range_claim_holds_for_the_values_the_table_marks():
    from engine.blend.masks import compose

    reg = engine_registry(4)
    marked = sorted(spec.name for spec in reg if safety_clamped(spec.name))
    assert "blend.layer.3" in marked and "blend.mapping" in marked and "blend.curve.center" not in marked
    state = compose({"blend.layer.0": 7.0, "blend.mapping": -7.0, "blend.kind.affine": 9.0,
                     "blend.kind.affine.amount": 1.0}, 4)
    assert state.layers[0] == 3.0 and state.mapping == -2.0 and state.kinds[0][1] == 3.0
