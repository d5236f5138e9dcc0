"""The WebSocket: LISTEN streams values whatever changed them, at most once per frame; binary OSC sets
values exactly like UDP OSC; PATH_ADDED / PATH_REMOVED follow a model swap that changes the layer count."""

import asyncio
import socket
import struct
import time

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder, build_msg

from engine.control.osc import OscAdapter
from engine.control.osc_server import OscServer, OscServerConfig
from engine.models.build import build_generator
from engine.show.catalog import build_registry
from tests.helpers import TINY
from tests.surface.conftest import run
from tests.surface.show_host import ShowHost
from tests.surface.wsclient import WsClient


def values_of(received, address):
    return [params[0] for item in received if isinstance(item, tuple) and item[0] == address
            for params in [item[1]]]


def test_listen_streams_every_source_once_per_frame_and_ignore_stops_it(surface, host):
    async def scenario():
        client = await WsClient.open(surface.port)
        try:
            await client.command("LISTEN", "/blend/layer/3")
            first = await client.until(lambda seen: seen, 2.0)
            assert first == [("/blend/layer/3", [0.0])]          # the current value, at once
            for i in range(50):                                   # a MIDI fader sweeping between two frames
                host.registry.set("blend.layer.3", i / 50, source=("midi", "nanoKONTROL2"))
            host.registry.set("blend.layer.4", 0.9, source=("midi", "nanoKONTROL2"))   # not listened
            surface.on_frame()
            got = await client.receive(0.5)
            assert got == [("/blend/layer/3", [pytest.approx(49 / 50)])]
            host.registry.set("blend.layer.3", 0.25, source="morph")
            surface.on_frame()
            assert values_of(await client.receive(0.5), "/blend/layer/3") == [0.25]
            await client.command("IGNORE", "/blend/layer/3")
            await asyncio.sleep(0.2)
            host.registry.set("blend.layer.3", 0.5, source="morph")
            surface.on_frame()
            assert await client.receive(0.4) == []
        finally:
            await client.close()

    run(scenario())


def test_listening_to_a_container_streams_what_is_below_it_with_its_osc_types(surface, host):
    async def scenario():
        client = await WsClient.open(surface.port)
        try:
            await client.command("LISTEN", "/latent/walk")
            initial = await client.until(lambda seen: any(i[0] == "/latent/walk/mode" for i in seen), 2.0)
            assert ("/latent/walk/mode", ["off"]) in initial
            host.registry.set("latent.walk.mode", "slerp", source="osc")
            host.registry.set("latent.walk.beats", 1, source="osc")
            host.registry.set("latent.seed", 7, source="osc")      # outside /latent/walk
            surface.on_frame()
            got = await client.receive(0.5)
            assert sorted(got) == [("/latent/walk/beats", [True]), ("/latent/walk/mode", ["slerp"])]
        finally:
            await client.close()

    run(scenario())


PACKETS = [
    build_msg("/blend/layer/2", 0.75).dgram,
    build_msg("/blend/layer/5", 50.0).dgram,                       # clamped to the overblend limit
    build_msg("/blend/layer/6", float("nan")).dgram,               # refused: the last good value stays
    build_msg("/latent/walk/mode", "noise").dgram,                 # a choice by name
    build_msg("/latent/seed", 12.7).dgram,                         # an int, rounded
    build_msg("/engine/pause", True).dgram,
    build_msg("/no/such/address", 1.0).dgram,
    build_msg("/preset/recall", ["dusk", 2.0]).dgram,
    build_msg("/preset/save", "mine").dgram,
    build_msg("/tempo/tap", 1.0).dgram,
    build_msg("/tempo/tap", 0.0).dgram,                            # a button's release: nothing
    build_msg("/blend/panic").dgram,
    b"\x00garbage that is not OSC\x00\x00\x00",
]


def _list_form() -> bytes:
    builder = OscMessageBuilder("/blend/layer")
    for v in (0.1, 0.2, 0.3):
        builder.add_arg(v)
    return builder.build().dgram


def _future_bundle() -> bytes:
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(build_msg("/blend/curve/amount", 0.6))
    data = bytearray(bundle.build().dgram)
    data[8:16] = struct.pack(">II", int(time.time()) + 2208988800 + 3600, 0)   # stamped an hour ahead
    return bytes(data)


def test_binary_osc_over_the_websocket_sets_values_exactly_like_udp(surface, host):
    packets = PACKETS + [_list_form(), _future_bundle()]
    reference = ShowHost()                                         # the same show, driven over UDP
    server = OscServer(OscAdapter(reference.registry, reference.actions), OscServerConfig(port=0)).start()
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for packet in packets:
            udp.sendto(packet, server.address)
        udp.close()

        async def over_websocket():
            client = await WsClient.open(surface.port)
            try:
                for packet in packets:
                    await client.ws.send_bytes(packet)
                await asyncio.sleep(0.3)
            finally:
                await client.close()

        run(over_websocket())
        deadline = time.monotonic() + 3
        while server.adapter.stats.packets < len(packets) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.stop()
    assert host.registry.targets() == reference.registry.targets()
    assert host.actions.calls == reference.actions.calls
    assert host.actions.calls == [("recall_preset", "dusk", 2.0), ("save_preset", "mine"), ("tap_tempo",), ("panic",)]
    assert host.registry.get("blend.layer.5") == 11.0 and host.registry.get("latent.walk.mode") == 3
    assert host.registry.get("blend.layer.2") == pytest.approx(0.3)     # the list form came after 0.75
    assert host.registry.get("blend.curve.amount") == pytest.approx(0.6)
    assert surface.adapter.stats.malformed == 1 and surface.adapter.stats.unknown == 1


def test_a_value_is_not_echoed_to_the_page_that_set_it_but_reaches_the_other(surface, host):
    async def scenario():
        a, b = await WsClient.open(surface.port), await WsClient.open(surface.port)
        try:
            for c in (a, b):
                await c.command("LISTEN", "/blend/curve/center")
                await c.until(lambda seen: seen, 2.0)
            await a.ws.send_bytes(build_msg("/blend/curve/center", 0.8).dgram)
            await asyncio.sleep(0.1)
            surface.on_frame()
            got_a, got_b = await asyncio.gather(a.receive(0.5), b.receive(0.5))
            assert got_a == [] and values_of(got_b, "/blend/curve/center") == [pytest.approx(0.8)]
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_a_swap_to_more_layers_sends_path_added_and_back_path_removed(surface, host):
    bigger = build_generator(dict(TINY, img_resolution=64))
    before = set(host.registry.names("blend.layer."))

    async def scenario():
        client = await WsClient.open(surface.port)
        try:
            build_registry(bigger, host.registry)                 # what the show does after a swap
            added = sorted(set(host.registry.names("blend.layer.")) - before)
            assert added
            layer_folder = {"COMMAND": "PATH_CHANGED", "DATA": "/blend/layer"}
            got = await client.until(lambda seen: layer_folder in seen, 3.0)
            notices = [i for i in got if isinstance(i, dict)]
            assert sorted(n["DATA"] for n in notices
                          if n["COMMAND"] == "PATH_ADDED" and n["DATA"].startswith("/blend/layer/")) == \
                sorted("/" + a.replace(".", "/") for a in added)
            build_registry(host.renderer.blended, host.registry)  # and back
            got = await client.until(lambda seen: layer_folder in seen, 3.0)
            removed = [i["DATA"] for i in got if isinstance(i, dict) and i["COMMAND"] == "PATH_REMOVED"
                       and i["DATA"].startswith("/blend/layer/")]
            assert sorted(removed) == sorted("/" + a.replace(".", "/") for a in added)
        finally:
            await client.close()

    run(scenario())


def test_frame_rate_readings_stream_to_listeners(surface, host):
    host.play(surface, fps=20)

    async def scenario():
        client = await WsClient.open(surface.port)
        try:
            await client.command("LISTEN", "/engine/fps")
            got = await client.until(lambda seen: any(v > 5 for v in values_of(seen, "/engine/fps")), 4.0)
            assert any(5 < v < 40 for v in values_of(got, "/engine/fps"))
        finally:
            await client.close()

    run(scenario())


def test_listened_values_follow_a_running_show(surface, host):
    """With a real render loop, changes arrive without anyone calling on_frame by hand."""
    host.play(surface, fps=30)

    async def scenario():
        client = await WsClient.open(surface.port)
        try:
            await client.command("LISTEN", "/blend/mapping")
            await client.until(lambda seen: seen, 2.0)
            host.registry.set("blend.mapping", 1.5, source=("midi", "x"))
            got = await client.until(lambda seen: values_of(seen, "/blend/mapping"), 2.0)
            assert values_of(got, "/blend/mapping") == [1.5]
        finally:
            await client.close()

    run(scenario())
