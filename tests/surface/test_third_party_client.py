"""A third-party OSCQuery client from PyPI (python-oscquery) reads the engine's namespace.

python-oscquery 0.4.0 has two limits of its own (see docs/control-page.md): it refuses a node that is
both a method and a container (``/blend/kind/conv`` with ``/amount`` below it), and a write-only method
without a value (triggers), which the proposal allows. So it reads subtrees without those, not ``/``."""

import socket

import pytest

pytest.importorskip("pythonoscquery")
from pythonoscquery.osc_query_client import OSCQueryClient  # noqa: E402
from zeroconf import ServiceInfo  # noqa: E402


@pytest.fixture
def client(surface):
    # The record a zeroconf browser would have found, made by hand: nothing is announced or browsed.
    info = ServiceInfo("_oscjson._tcp.local.", "netblend._oscjson._tcp.local.", port=surface.port,
                       addresses=[socket.inet_aton("127.0.0.1")])
    return OSCQueryClient(info)


def test_python_oscquery_reads_host_info_and_values(client, host):
    host.registry.set("blend.layer.2", 1.75)
    host.registry.set("latent.walk.mode", "circle")
    host.registry.set("engine.pause", 1)
    info = client.get_host_info()
    assert (info.name, info.osc_ip, info.osc_port, info.osc_transport) == ("netblend", "127.0.0.1", 9000, "UDP")
    layers = client.query_node("/blend/layer")
    values = {node.full_path: node.value for node in layers.contents}
    assert len(values) == len(host.registry.names("blend.layer."))
    assert values["/blend/layer/2"] == [1.75]
    mode = client.query_node("/latent/walk/mode")
    assert mode.value == ["circle"] and mode.type == [str]
    assert client.query_node("/engine/pause").value == [True]
    assert client.query_node("/nowhere") is None
