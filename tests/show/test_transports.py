"""Transports wired onto a show from plain config objects: OSC in (with aliases), feedback out."""

import socket

import pytest
from pythonosc.osc_message_builder import build_msg

from engine.errors import MappingError, OscError
from engine.show import OscConfig, TransportConfig, check_transports, start_transports
from tests.helpers import Collect, make_show, steps, wait_for


def free_udp_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_osc_aliases_and_feedback_from_a_transport_config(tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(2.0)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[[osc]]\naddress = "/td/x"\nparam = "blend.layer.5"\nrange = [0.0, 2.0]\n')
    port = free_udp_port()
    config = TransportConfig(osc=OscConfig(port=port, maps=[str(mapping)],
                                           feedback=f"127.0.0.1:{listener.getsockname()[1]}"), autosave=0)
    show = make_show(tmp_path, [Collect()])
    try:
        check_transports(config)
        lines = start_transports(show, config)
        assert any(f"127.0.0.1:{port}" in line for line in lines)
        listener.sendto(build_msg("/td/x", 0.75).dgram, ("127.0.0.1", port))
        assert wait_for(lambda: show.registry.get("blend.layer.5") == pytest.approx(1.5)) is not None
        show.registry.set("blend.layer.6", 0.5)
        received = set()
        while build_msg("/blend/layer/6", 0.5).dgram not in received:
            received.add(listener.recvfrom(1024)[0])
        assert build_msg("/engine/fps", 0.0).dgram not in received      # no fps before the first frame
        steps(show, 3)
        while not any(d.startswith(b"/engine/fps") for d in received):
            received.add(listener.recvfrom(1024)[0])
    finally:
        show.close()
        listener.close()


def test_no_osc_port_means_no_server_and_bad_configs_fail_before_anything_starts(tmp_path):
    show = make_show(tmp_path)
    try:
        assert start_transports(show, TransportConfig(osc=OscConfig(port=0), autosave=0)) == []
        assert show.osc is None
    finally:
        show.close()
    with pytest.raises(MappingError, match="no such file"):
        check_transports(TransportConfig(osc=OscConfig(maps=[str(tmp_path / "nope.toml")])))
    with pytest.raises(OscError, match="HOST:PORT"):
        check_transports(TransportConfig(osc=OscConfig(feedback="localhost")))
