"""A small OSCQuery WebSocket client for the tests (aiohttp), decoding what it receives with python-osc."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from pythonosc.osc_message import OscMessage


class WsClient:
    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session, self.ws = session, ws

    @classmethod
    async def open(cls, port: int, **kwargs) -> WsClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/", **kwargs)
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()

    async def command(self, command: str, data: str) -> None:
        await self.ws.send_str(json.dumps({"COMMAND": command, "DATA": data}))

    async def receive(self, seconds: float = 1.0) -> list:
        """Everything that arrives within ``seconds``: (address, params) tuples and JSON dicts."""
        out: list = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self.ws.receive(timeout=left)
            except asyncio.TimeoutError:
                break
            if msg.type == aiohttp.WSMsgType.BINARY:
                message = OscMessage(msg.data)
                out.append((message.address, list(message.params)))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                out.append(json.loads(msg.data))
            else:
                break
        return out

    async def until(self, predicate, seconds: float = 2.0) -> list:
        """Receive until ``predicate(all received so far)`` holds or ``seconds`` pass."""
        seen: list = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not predicate(seen):
            seen += await self.receive(min(0.05, max(deadline - time.monotonic(), 0.0)))
        return seen
