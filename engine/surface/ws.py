"""The OSCQuery WebSocket: ``LISTEN``/``IGNORE`` commands in, binary OSC both ways.

Binary messages are OSC packets and go to the same :class:`~engine.control.osc.OscAdapter` code as
UDP datagrams, with the connection as the sender (``("osc", "ws:<ip>", port)``), so a value set here is
clamped, refused or aliased exactly as over UDP and is not echoed back to this client. Text messages
are JSON commands. Anything else (bad JSON, unknown commands, oversize or flooding input) is ignored
and counted; the connection stays open and the show keeps rendering.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from .clients import Client

if TYPE_CHECKING:
    from .server import Surface

HEARTBEAT_SECONDS = 15.0        # ping interval; a peer that stops answering is closed
SEND_BUFFER_BYTES = 64 * 1024   # kernel send buffer per client (a few hundred frames of values)


async def serve_websocket(request: web.Request, surface: Surface) -> web.StreamResponse:
    """Upgrade ``request`` and serve the connection until it closes."""
    config, stats = surface.config, surface.stats
    if len(surface.clients) >= config.max_clients:
        stats.refused_clients += 1
        stats.warn_once("clients", "more than %d control clients at once; refusing new ones", config.max_clients)
        return web.Response(status=503, text="too many control clients connected\n")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=4 * config.max_message_bytes)
    await ws.prepare(request)
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:            # a small kernel buffer: a dead client is noticed in seconds, not megabytes
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    peer = request.transport.get_extra_info("peername") if request.transport else None
    host, port = (str(peer[0]), int(peer[1])) if peer else ("unknown", 0)
    client = Client(ws, request.transport, ("osc", f"ws:{host}", port), config.messages_per_second,
                    config.slow_client_seconds)
    surface.clients.add(client)
    stats.clients = len(surface.clients)
    sender = asyncio.ensure_future(client.run_sender(stats))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                _text(surface, client, msg.data)
            elif msg.type == WSMsgType.BINARY:
                _binary(surface, client, msg.data, (client.source[1], client.source[2]))
            elif msg.type == WSMsgType.ERROR:
                stats.oversize += 1
                stats.warn_once("ws-error", "a WebSocket client sent what could not be read (%s)", ws.exception())
    finally:
        surface.clients.discard(client)
        stats.clients = len(surface.clients)
        sender.cancel()
        surface.update_listening()
    return ws


def _too_big(surface: Surface, size: int) -> bool:
    if size <= surface.config.max_message_bytes:
        return False
    surface.stats.oversize += 1
    surface.stats.warn_once("oversize", "ignored a WebSocket message of %d bytes", size)
    return True


def _text(surface: Surface, client: Client, text: str) -> None:
    stats = surface.stats
    if _too_big(surface, len(text)):
        return
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("COMMAND"), str):
        stats.bad_json += 1
        stats.warn_once("json", "ignored a WebSocket text message that is not a JSON command")
        return
    command, data = message["COMMAND"], message.get("DATA")
    if command not in ("LISTEN", "IGNORE") or not isinstance(data, str) or not data.startswith("/"):
        stats.unknown_commands += 1
        stats.warn_once(f"command:{command[:40]}", "ignored WebSocket command %r", command[:40])
        return
    address = "/" + data.strip("/") if data != "/" else "/"
    if command == "IGNORE":
        client.ignore(address)
    else:
        kind = surface.kind_of(address)
        if kind is None:
            stats.unknown_commands += 1
            stats.warn_once(f"listen:{address[:60]}", "LISTEN to %s: no such address", address[:60])
            return
        client.listen(address, container=kind == "container")
        surface.send_current(client, address)
    surface.update_listening()


def _binary(surface: Surface, client: Client, data: bytes, client_address: tuple[str, int]) -> None:
    stats = surface.stats
    if _too_big(surface, len(data)):
        return
    if not client.bucket.take():
        stats.rate_limited += 1
        stats.warn_once("rate", "a WebSocket client sends OSC faster than %.0f packets/s; the excess is dropped",
                        surface.config.messages_per_second)
        return
    stats.osc_packets += 1
    packet = bytes(data)
    adapter = surface.adapter
    if len(packet) % 4 or not (OscMessage.dgram_is_message(packet) or OscBundle.dgram_is_bundle(packet)):
        adapter.stats.packets += 1                 # what the UDP server's verify_request does
        adapter.stats.malformed += 1
        return
    adapter.handle_packet(packet, client_address)
