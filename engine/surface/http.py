"""The HTTP side: OSCQuery JSON at every address, the control page under ``/ui/``, and the guard.

Routes (one port; ``/ui`` is reserved for the page and never an OSC address):

- ``GET /``, ``GET /<address>`` -> the OSCQuery node; ``?VALUE`` (or another attribute) -> that attribute;
  ``?HOST_INFO`` -> the host info; a WebSocket upgrade on any of them -> :mod:`.ws`.
- ``GET /ui/`` and its static files (plain HTML, JS and CSS shipped in the package; no build step).
- ``GET /ui/state`` -> presets, models, model choices, layer resolutions, autosave (JSON).
- ``GET /ui/preview.jpg`` -> the newest frame as a small JPEG (only while a page asks for it).
- ``POST /ui/models`` ``{"models": [...]}`` -> swap to models from ``model_choices()``, nothing else.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import security
from .namespace import QueryError, attribute, host_info
from .ws import serve_websocket

if TYPE_CHECKING:
    from .server import Surface

STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
PAGE_FILES = {p.name: p for p in STATIC.iterdir() if p.suffix in CONTENT_TYPES} if STATIC.is_dir() else {}
MAX_MODELS = 8
PREVIEW_WAIT = 1.0              # seconds a preview request waits for the next frame
SURFACE_KEY: web.AppKey[Any] = web.AppKey("surface")


def build_app(surface: Surface) -> web.Application:
    """The aiohttp application of ``surface`` (every route behind :func:`_guard`)."""
    app = web.Application(middlewares=[_guard], client_max_size=surface.config.max_message_bytes)
    app[SURFACE_KEY] = surface
    app.router.add_get("/ui", _to_page)
    app.router.add_get("/ui/", _page_file)
    app.router.add_get("/ui/state", _state)
    app.router.add_get("/ui/preview.jpg", _preview)
    app.router.add_post("/ui/models", _swap_models)
    app.router.add_get("/ui/{name}", _page_file)
    app.router.add_get("/{address:.*}", _oscquery)
    return app


def _surface(request: web.Request) -> Surface:
    return request.app[SURFACE_KEY]


def _forbidden(surface: Surface, why: str) -> web.Response:
    surface.stats.forbidden += 1
    surface.stats.warn_once(f"403:{why}", "refused a control request: %s", why)
    return web.Response(status=403, text=f"netblend: {why}\n")


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    surface = _surface(request)
    surface.stats.requests += 1
    token = surface.token
    if not security.host_allowed(request.headers.get("Host"), token is not None, surface.config.host):
        return _forbidden(surface, "this port answers only requests addressed to this machine")
    if not security.token_matches(token, request.query, request.headers, request.cookies):
        return _forbidden(surface, "wrong or missing token; open the address printed when netblend started")
    if not security.origin_allowed(request.headers.get("Origin"), request.headers.get("Host")):
        return _forbidden(surface, "requests from other web sites are refused")
    response = await handler(request)
    if token is not None and request.query.get(security.TOKEN_PARAM) == token and isinstance(response, web.Response):
        response.set_cookie(security.TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
    return response


async def _to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/" + (f"?{request.query_string}" if request.query_string else ""))


async def _page_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name", "index.html")
    path = PAGE_FILES.get(name)
    if path is None:
        raise web.HTTPNotFound(text="no such page file\n")
    return web.Response(body=path.read_bytes(), content_type=CONTENT_TYPES[path.suffix],
                        headers={"Cache-Control": "no-cache"})


async def _oscquery(request: web.Request) -> web.StreamResponse:
    surface = _surface(request)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await serve_websocket(request, surface)
    attributes = [k for k in request.query if k != security.TOKEN_PARAM]
    if "HOST_INFO" in attributes:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        local_ip = str(sockname[0]) if sockname else surface.config.host
        osc_ip = surface.config.osc_host
        if not osc_ip or osc_ip in ("0.0.0.0", "::"):
            osc_ip = local_ip
        return web.json_response(host_info(surface.config.name, osc_ip, surface.config.osc_port,
                                           local_ip, surface.port))
    namespace = surface.namespace()
    node = namespace.node(request.path)
    if node is None:
        raise web.HTTPNotFound(text=f"no OSC address {request.path[:200]}\n")
    if not attributes:
        return web.json_response(node)
    if len(attributes) > 1:
        surface.stats.bad_requests += 1
        raise web.HTTPBadRequest(text="ask for one attribute at a time, e.g. ?VALUE\n")
    try:
        return web.json_response(attribute(node, attributes[0]))
    except QueryError as e:
        if e.status == 204:
            return web.Response(status=204)
        surface.stats.bad_requests += 1
        raise web.HTTPBadRequest(text=f"{e}\n") from None


async def _state(request: web.Request) -> web.StreamResponse:
    surface = _surface(request)
    host = surface.host
    loop = asyncio.get_running_loop()
    presets = await loop.run_in_executor(None, host.list_presets)     # a folder listing: off the loop
    state = {"name": surface.config.name, "presets": presets, "models": host.models(),
             "model_choices": host.model_choices(), "layer_resolutions": host.layer_resolutions(),
             "autosave": host.autosave_status(), "fps": host.fps(), "frame_ms": host.frame_ms()}
    return web.json_response(state, headers={"Cache-Control": "no-store"})


async def _preview(request: web.Request) -> web.StreamResponse:
    surface = _surface(request)
    data = await surface.preview_jpeg(PREVIEW_WAIT)
    if data is None:
        return web.Response(status=503, text="no frame yet\n", headers={"Retry-After": "1"})
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _bad(surface: Surface, message: str) -> web.Response:
    surface.stats.bad_requests += 1
    surface.stats.warn_once(f"400:{message[:40]}", "refused a model swap: %s", message)
    return web.Response(status=400, text=f"netblend: {message}\n")


async def _swap_models(request: web.Request) -> web.StreamResponse:
    surface = _surface(request)
    try:
        body = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        return _bad(surface, "the body must be JSON: {\"models\": [\"a.pkl\", \"b.pkl\"]}")
    models = body.get("models") if isinstance(body, dict) else None
    if (not isinstance(models, list) or not 1 <= len(models) <= MAX_MODELS
            or not all(isinstance(m, str) for m in models)):
        return _bad(surface, f"\"models\" must list 1 to {MAX_MODELS} names from the models list")
    choices = set(surface.host.model_choices())
    outside = [m for m in models if m not in choices]
    if outside:
        return _bad(surface, f"{outside[0][:200]!r} is not in the models list; only the models the engine "
                             "was started with or found in --models-dir can be loaded")
    surface.host.swap_models(list(models))
    return web.json_response({"swapping": models})
