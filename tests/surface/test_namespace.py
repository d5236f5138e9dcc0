"""OSCQuery over real HTTP: the tree is the registry, it follows the proposal, attribute queries answer."""

import json
import urllib.error
import urllib.request

import pytest

from engine.core.params import ParamSpec
from tests.surface.oscquery_rules import check_node


def get(surface, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{surface.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def walk(node):
    yield node
    for child in node.get("CONTENTS", {}).values():
        yield from walk(child)


def test_the_tree_is_the_registry_with_types_values_and_real_ranges(surface, host):
    reg = host.registry
    reg.set("blend.layer.3", 2.5)              # overblend
    reg.set("latent.walk.mode", "slerp")
    reg.set("engine.pause", 1)
    reg.set("latent.seed", 42)
    status, tree = get(surface, "/")
    assert status == 200
    methods = check_node(tree)
    nodes = {n["FULL_PATH"]: n for n in walk(tree)}
    assert methods >= len(reg)
    for spec in reg:
        node = nodes[spec.address]
        if spec.address in ("/tempo/tap", "/blend/panic"):
            assert node["TYPE"] == "I" and node["ACCESS"] == 2   # the OSC action at the same address
            continue
        assert node["TYPE"] == {"float": "f", "int": "i", "bool": "T", "choice": "s", "trigger": "I"}[spec.kind]
        if spec.kind == "trigger":
            assert node["ACCESS"] == 2 and "VALUE" not in node
            continue
        assert node["ACCESS"] == 3
        if spec.kind == "choice":
            assert node["RANGE"] == [{"VALS": list(spec.choices)}]
        elif spec.kind in ("float", "int"):
            assert node["RANGE"] == [{"MIN": spec.lo, "MAX": spec.hi}] and node["CLIPMODE"] == ["both"]
    assert nodes["/blend/layer/3"]["VALUE"] == [2.5]
    assert nodes["/blend/layer/3"]["RANGE"][0]["MIN"] < 0 and nodes["/blend/layer/3"]["RANGE"][0]["MAX"] > 1
    assert nodes["/latent/walk/mode"]["VALUE"] == ["slerp"]
    assert nodes["/engine/pause"]["VALUE"] == [True]
    assert nodes["/latent/seed"]["VALUE"] == [42]
    assert nodes["/tempo/bpm"]["UNIT"] == ["time.bpm"]
    assert nodes["/blend/kind/conv"]["CONTENTS"]["amount"]["FULL_PATH"] == "/blend/kind/conv/amount"
    assert nodes["/engine/fps"]["ACCESS"] == 1


def test_actions_are_write_only_methods_listing_the_presets(surface):
    status, recall = get(surface, "/preset/recall")
    assert status == 200 and recall["TYPE"] == "s" and recall["ACCESS"] == 2
    assert recall["RANGE"] == [{"VALS": ["dusk", "warm"]}]
    assert recall["OVERLOADS"][0]["TYPE"] == "sf"
    assert get(surface, "/preset/save")[1]["TYPE"] == "s"


def test_attribute_queries_answer_per_the_proposal(surface, host):
    host.registry.set("blend.curve.center", 0.25)
    assert get(surface, "/blend/curve/center?VALUE") == (200, {"VALUE": [0.25]})
    assert get(surface, "/blend/curve/center?RANGE") == (200, {"RANGE": [{"MIN": 0.0, "MAX": 1.0}]})
    assert get(surface, "/blend/curve?TYPE") == (200, {})                 # a container has no type
    assert get(surface, "/blend/panic?VALUE")[0] == 204                   # write-only: nothing to read
    assert get(surface, "/blend/curve/center?BOGUS")[0] == 400
    assert get(surface, "/blend/curve/center?VALUE&RANGE")[0] == 400
    assert get(surface, "/blend/curve/centre")[0] == 404


def test_host_info_names_the_osc_port_and_the_websocket(surface):
    status, info = get(surface, "/blend/layer?HOST_INFO")
    assert status == 200
    assert info["NAME"] == "netblend"
    assert (info["OSC_IP"], info["OSC_PORT"], info["OSC_TRANSPORT"]) == ("127.0.0.1", 9000, "UDP")
    assert info["WS_PORT"] == surface.port
    for extension in ("ACCESS", "VALUE", "RANGE", "DESCRIPTION", "CLIPMODE", "LISTEN", "PATH_CHANGED",
                      "PATH_ADDED", "PATH_REMOVED"):
        assert info["EXTENSIONS"][extension] is True


def test_a_new_parameter_appears_with_nothing_else_changed(surface, host):
    assert get(surface, "/fx/glow")[0] == 404
    host.registry.add(ParamSpec("fx.glow", 0.3, 0.0, 2.0, doc="a parameter added later"))
    status, node = get(surface, "/fx/glow")
    assert status == 200 and node["VALUE"] == [pytest.approx(0.3)] and node["DESCRIPTION"] == "a parameter added later"


def test_a_busy_port_is_one_clear_error(host):
    import socket

    from engine.surface import SurfaceError, start_surface
    from tests.surface.conftest import surface_config

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with pytest.raises(SurfaceError, match=r"cannot open the control port 127\.0\.0\.1:\d+: .*--http-port"):
            start_surface(host, surface_config(port=busy.getsockname()[1]))
    finally:
        busy.close()
