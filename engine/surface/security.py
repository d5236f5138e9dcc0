"""Who may talk to the surface: the token, the Host header and the Origin header.

- Bound to loopback, no token is needed, but the ``Host`` header must name this machine (a loopback
  address or ``localhost``): a web page elsewhere cannot reach the port through DNS rebinding.
- Bound beyond loopback (``--http-host 0.0.0.0``), every HTTP request and WebSocket needs the token
  printed at start: ``?token=...`` in the URL (the page then keeps it in a same-site cookie), an
  ``Authorization: Bearer ...`` header, or that cookie. A wrong or missing token gets 403.
- A request that carries an ``Origin`` (a browser) must come from this server's own pages, so
  another site open in the same browser cannot drive the engine through it.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from .host import SurfaceConfig, is_loopback

TOKEN_COOKIE = "netblend_token"
TOKEN_PARAM = "token"


def resolve_token(config: SurfaceConfig) -> str | None:
    """The token this server requires: the configured one, a fresh one when bound beyond loopback,
    or None (loopback, or the explicit ``open_to_lan_without_token``)."""
    if config.token:
        return config.token
    if is_loopback(config.host) or config.open_to_lan_without_token:
        return None
    return secrets.token_urlsafe(16)


def token_matches(expected: str | None, query: Mapping[str, str], headers: Mapping[str, str],
                  cookies: Mapping[str, str]) -> bool:
    """Whether a request carries ``expected`` (always true when no token is required)."""
    if expected is None:
        return True
    offered = [query.get(TOKEN_PARAM, ""), cookies.get(TOKEN_COOKIE, "")]
    auth = headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        offered.append(auth[len("Bearer "):])
    return any(o and hmac.compare_digest(o.encode(), expected.encode()) for o in offered)


def _hostname(host_header: str) -> str:
    return urlsplit("//" + host_header).hostname or ""


def host_allowed(host_header: str | None, token_required: bool, bound_host: str) -> bool:
    """Whether the ``Host`` header is acceptable. Without a token only this machine's names pass."""
    if token_required:
        return True
    if not host_header:
        return False
    name = _hostname(host_header)
    if name == "localhost" or name == bound_host:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback or not is_loopback(bound_host)
    except ValueError:
        return not is_loopback(bound_host)


def origin_allowed(origin: str | None, host_header: str | None) -> bool:
    """Whether a browser ``Origin`` is this server itself (no Origin: not a browser, allowed)."""
    if not origin:
        return True
    if origin == "null" or not host_header:
        return False
    return urlsplit(origin).netloc.lower() == host_header.lower()
