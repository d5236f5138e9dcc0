"""Zeroconf (mDNS) advertisement of the OSCQuery server (``_oscjson._tcp``) and the OSC port (``_osc._udp``).

Only with ``--announce``: it multicasts on the LAN, like an Ableton Link session. The service records
are built by :func:`service_infos` (pure, tested); :class:`Announcer` registers them with
python-zeroconf (the ``announce`` extra) and withdraws them at stop.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any

from .host import SurfaceConfig, SurfaceError, is_loopback

log = logging.getLogger("netblend.surface")
OSCJSON_TYPE = "_oscjson._tcp.local."
OSC_TYPE = "_osc._udp.local."


def lan_addresses(bound_host: str) -> list[str]:
    """The addresses to advertise: the bound one, or every non-loopback IPv4 address when bound to all."""
    if bound_host not in ("0.0.0.0", "::", ""):
        return [bound_host]
    import ifaddr

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ipaddress.ip_address(ip.ip).is_loopback:
                found.append(ip.ip)
    return found


def service_infos(config: SurfaceConfig, http_port: int, addresses: list[str]) -> list[Any]:
    """The zeroconf records: OSCQuery on ``http_port`` and, when running, the UDP OSC port."""
    from zeroconf import ServiceInfo

    instance = config.name.replace(".", "-")[:60] or "netblend"
    server = f"{socket.gethostname().split('.')[0]}.local."
    infos = [ServiceInfo(OSCJSON_TYPE, f"{instance}.{OSCJSON_TYPE}", port=http_port,
                         parsed_addresses=addresses, server=server, properties={"txtvers": "1"})]
    if config.osc_port:
        infos.append(ServiceInfo(OSC_TYPE, f"{instance}.{OSC_TYPE}", port=config.osc_port,
                                 parsed_addresses=addresses, server=server, properties={"txtvers": "1"}))
    return infos


class Announcer:
    """Registers the records on the LAN until :meth:`stop`."""

    def __init__(self, config: SurfaceConfig, http_port: int):
        self.config = config
        self.http_port = http_port
        self._zeroconf: Any = None
        self._infos: list[Any] = []

    def start(self) -> Announcer:
        if is_loopback(self.config.host):
            log.warning("--announce: the control port is bound to %s, which other machines cannot reach; "
                        "add --http-host 0.0.0.0 to announce it", self.config.host)
            return self
        try:
            from zeroconf import Zeroconf
        except ImportError:
            raise SurfaceError("--announce needs python-zeroconf: pip install 'netblend[announce]'") from None
        addresses = lan_addresses(self.config.host)
        if not addresses:
            log.warning("--announce: no network address found to announce")
            return self
        self._zeroconf = Zeroconf()
        self._infos = service_infos(self.config, self.http_port, addresses)
        for info in self._infos:
            self._zeroconf.register_service(info, allow_name_change=True)
        log.info("announced OSCQuery on %s port %d", ", ".join(addresses), self.http_port)
        return self

    def stop(self) -> None:
        if self._zeroconf is None:
            return
        try:
            for info in self._infos:
                self._zeroconf.unregister_service(info)
        finally:
            self._zeroconf.close()
            self._zeroconf = None
