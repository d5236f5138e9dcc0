"""Safety: the token beyond loopback, foreign Host and Origin headers, the model list, garbage on every
endpoint, floods, too many clients and a client that stops reading. The show keeps its values."""

import asyncio
import base64
import json
import os
import socket
import time
import urllib.error
import urllib.request

import aiohttp
import pytest
from pythonosc.osc_message_builder import build_msg

from engine.surface import SurfaceConfig, start_surface
from engine.surface.security import host_allowed, origin_allowed, resolve_token
from tests.surface.conftest import run, surface_config
from tests.surface.wsclient import WsClient


def request(port, path, method="GET", body=None, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


@pytest.fixture
def guarded(host):
    surface = start_surface(host, surface_config(token="s3cret-token"))
    yield surface
    surface.stop()


def test_the_token_policy_follows_the_bound_interface():
    assert resolve_token(SurfaceConfig(host="127.0.0.1")) is None
    assert resolve_token(SurfaceConfig(host="localhost")) is None
    generated = resolve_token(SurfaceConfig(host="0.0.0.0"))
    assert generated and len(generated) >= 16 and generated != resolve_token(SurfaceConfig(host="0.0.0.0"))
    assert resolve_token(SurfaceConfig(host="192.168.1.20")) is not None
    assert resolve_token(SurfaceConfig(host="0.0.0.0", open_to_lan_without_token=True)) is None
    assert resolve_token(SurfaceConfig(host="127.0.0.1", token="given")) == "given"
    assert host_allowed("127.0.0.1:9001", False, "127.0.0.1") and host_allowed("localhost:9001", False, "127.0.0.1")
    assert not host_allowed("evil.example:9001", False, "127.0.0.1")        # DNS rebinding
    assert host_allowed("my-mac.local:9001", True, "0.0.0.0")
    assert origin_allowed(None, "127.0.0.1:9001") and origin_allowed("http://127.0.0.1:9001", "127.0.0.1:9001")
    assert not origin_allowed("https://evil.example", "127.0.0.1:9001")


def test_without_the_token_nothing_is_served_and_nothing_changes(guarded, host):
    port = guarded.port
    assert "?token=s3cret-token" in guarded.url
    assert request(port, "/")[0] == 403
    assert request(port, "/?token=wrong")[0] == 403
    assert request(port, "/ui/")[0] == 403
    assert request(port, "/ui/models", "POST", json.dumps({"models": ["models/c.pt"]}).encode())[0] == 403
    assert host.swaps == []
    status, _, headers = request(port, "/ui/?token=s3cret-token")
    assert status == 200 and "netblend_token=s3cret-token" in headers["Set-Cookie"]
    assert request(port, "/blend/layer/0", headers={"Authorization": "Bearer s3cret-token"})[0] == 200
    assert request(port, "/blend/layer/0", headers={"Cookie": "netblend_token=s3cret-token"})[0] == 200

    async def websocket():
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await WsClient.open(port)
        assert refused.value.status == 403
        client = await WsClient.open(port, headers={"Authorization": "Bearer s3cret-token"})
        try:
            await client.command("LISTEN", "/blend/layer/1")
            assert await client.until(lambda seen: seen, 2.0) == [("/blend/layer/1", [0.0])]
        finally:
            await client.close()

    before = host.registry.targets()
    run(websocket())
    assert host.registry.targets() == before
    assert guarded.stats.forbidden >= 5


def test_foreign_host_and_origin_headers_are_refused(surface, host):
    assert request(surface.port, "/", headers={"Host": "evil.example:9001"})[0] == 403
    body = json.dumps({"models": ["models/c.pt"]}).encode()
    assert request(surface.port, "/ui/models", "POST", body, {"Origin": "https://evil.example"})[0] == 403
    assert host.swaps == []

    async def cross_site_websocket():
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await WsClient.open(surface.port, origin="https://evil.example")
        assert refused.value.status == 403

    run(cross_site_websocket())


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"models": "models/c.pt"}', b'{"models": []}', b'{"models": [1, 2]}',
    b'{"models": ["/etc/passwd"]}', b'{"models": ["../models/a.pt"]}', b'{"models": ["models/a.pt", "x.pkl"]}',
    json.dumps({"models": ["models/a.pt"] * 9}).encode(), b"\xff\xfe\x00garbage",
])
def test_a_model_swap_takes_only_models_from_the_list(surface, host, body):
    status, text, _ = request(surface.port, "/ui/models", "POST", body, {"Content-Type": "application/json"})
    assert status == 400 and b"models" in text
    assert host.swaps == []


def test_a_model_swap_from_the_list_reaches_the_show(surface, host):
    body = json.dumps({"models": ["models/c.pt", "models/a.pt"]}).encode()
    status, text, _ = request(surface.port, "/ui/models", "POST", body, {"Content-Type": "application/json"})
    assert status == 200 and host.swaps == [["models/c.pt", "models/a.pt"]]
    state = json.loads(request(surface.port, "/ui/state")[1])
    assert state["model_choices"] == host.choices and state["presets"] == ["dusk", "warm"]


def test_garbage_on_every_http_endpoint_is_answered_and_the_show_is_unchanged(surface, host):
    before = host.registry.targets()
    for path in ("/ui/../../etc/passwd", "/ui/%2e%2e/setup.cfg", "/ui/nothing.js", "/%00", "/" + "a/" * 3000,
                 "/blend/layer/3?" + "VALUE&" * 50, "/ui/preview.jpg?VALUE", "/ui/state?x=" + "y" * 5000):
        status = request(surface.port, path)[0]
        assert status in (200, 400, 403, 404, 414, 431, 503), (path, status)
    for method in ("PUT", "DELETE", "PATCH"):
        assert request(surface.port, "/blend/layer/0", method, b"1")[0] in (403, 405)
    for garbage in (os.urandom(2000), b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X: " + b"y" * 20000 + b"\r\n\r\n",
                    b"\x16\x03\x01\x02\x00" + os.urandom(500)):          # random bytes, a huge header, a TLS hello
        with socket.create_connection(("127.0.0.1", surface.port), timeout=5) as raw:
            raw.sendall(garbage)
            try:
                raw.recv(100)
            except (TimeoutError, ConnectionError):
                pass
    assert request(surface.port, "/blend/layer/0")[0] == 200
    assert host.registry.targets() == before


def test_garbage_on_the_websocket_is_counted_and_the_connection_keeps_working(surface, host):
    before = host.registry.targets()

    async def scenario():
        client = await WsClient.open(surface.port)
        try:
            ws = client.ws
            await ws.send_str("{not json")
            await ws.send_str("[1, 2, 3]")
            await ws.send_str(json.dumps({"COMMAND": "FORMAT_DISK", "DATA": "/"}))
            await ws.send_str(json.dumps({"COMMAND": "LISTEN", "DATA": "/no/such/place"}))
            await ws.send_str(json.dumps({"COMMAND": "LISTEN", "DATA": 42}))
            await ws.send_str("x" * (200 * 1024))                   # over max_message_bytes: ignored
            await ws.send_bytes(os.urandom(100 * 1024))
            for _ in range(200):
                await ws.send_bytes(os.urandom(64))
            await client.command("LISTEN", "/blend/layer/2")
            got = await client.until(lambda seen: seen, 2.0)
            assert got == [("/blend/layer/2", [0.0])]
        finally:
            await client.close()

    run(scenario())
    stats = surface.stats
    assert stats.bad_json == 2 and stats.unknown_commands == 3 and stats.oversize == 2
    assert surface.adapter.stats.malformed >= 150          # random bytes rarely parse as OSC
    assert {k: v for k, v in host.registry.targets().items()} == before


def test_a_flooding_client_is_rate_limited(host):
    surface = start_surface(host, surface_config(messages_per_second=200))
    try:
        async def flood():
            client = await WsClient.open(surface.port)
            try:
                for i in range(2000):
                    await client.ws.send_bytes(build_msg("/blend/layer/1", (i % 100) / 100).dgram)
                await asyncio.sleep(0.3)
            finally:
                await client.close()

        started = time.monotonic()
        run(flood())
        elapsed = time.monotonic() - started
    finally:
        surface.stop()
    assert surface.stats.rate_limited > 0
    assert surface.stats.osc_packets <= 200 * elapsed + 60


def test_clients_beyond_the_limit_are_refused(host):
    surface = start_surface(host, surface_config(max_clients=2))
    try:
        async def scenario():
            clients = [await WsClient.open(surface.port) for _ in range(2)]
            try:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await WsClient.open(surface.port)
                assert refused.value.status == 503
            finally:
                for c in clients:
                    await c.close()

        run(scenario())
    finally:
        surface.stop()
    assert surface.stats.refused_clients == 1


def _raw_websocket(port: int) -> socket.socket:
    """A WebSocket client on a socket with a tiny receive window that never reads (a dead phone)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b"101" in sock.recv(4096).split(b"\r\n")[0]
    text = json.dumps({"COMMAND": "LISTEN", "DATA": "/"}).encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(text)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))
    return sock


def test_a_client_that_stops_reading_is_dropped_and_costs_the_frame_nothing(host):
    surface = start_surface(host, surface_config(slow_client_seconds=0.5))
    dead = _raw_websocket(surface.port)
    try:
        names = host.registry.names("blend.")
        worst = 0.0
        deadline = time.monotonic() + 20
        i = 0
        while surface.stats.slow_dropped == 0 and time.monotonic() < deadline:
            i += 1
            for name in names:
                if host.registry.spec(name).kind == "float":
                    host.registry.set(name, (i % 7) / 10, source="morph")
            t0 = time.perf_counter()
            surface.on_frame()
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.005)
        assert surface.stats.slow_dropped == 1
        deadline = time.monotonic() + 3
        while surface.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not surface.clients
        assert worst < 0.005                      # the render thread never waited for the dead client
        assert request(surface.port, "/blend/layer/0")[0] == 200
    finally:
        dead.close()
        surface.stop()
