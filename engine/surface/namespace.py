"""The OSCQuery namespace: JSON nodes built from the parameter registry (Vidvox proposal, 3rd revision).

Nothing is listed twice: every registered parameter is a method at its canonical address (the dotted
name with ``/``), every OSC action of :mod:`engine.control.osc` is a write-only method, and two
read-only methods report the frame rate. A parameter whose address is also the parent of others
(``/blend/kind/conv`` and ``/blend/kind/conv/amount``) is a method with ``CONTENTS``, as in libossia.

Types (``TYPE``): floats ``f``, ints ``i``, bools ``T`` (``VALUE`` a JSON boolean), choices ``s`` with
``RANGE`` ``VALS``, triggers and button actions ``I`` (an OSC impulse: no argument). ``RANGE`` is the
real range, overblend included; ``CLIPMODE`` ``both`` says out-of-range values are clamped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..control.osc import ACTION_ADDRESSES
from ..core.params import ParamSpec

ACCESS_NONE, ACCESS_READ, ACCESS_WRITE, ACCESS_READ_WRITE = 0, 1, 2, 3
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION", "CLIPMODE",
              "UNIT", "TAGS", "OVERLOADS", "EXTENDED_TYPE", "CRITICAL", "HTML")
EXTENSIONS = {
    "ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "CLIPMODE": True, "UNIT": True,
    "TAGS": True, "OVERLOADS": True, "EXTENDED_TYPE": False, "CRITICAL": False, "HTML": False,
    "LISTEN": True, "PATH_CHANGED": True, "PATH_ADDED": True, "PATH_REMOVED": True, "PATH_RENAMED": False,
}
FPS_ADDRESS = "/engine/fps"
FRAME_MS_ADDRESS = "/engine/frame_ms"
READ_ONLY = {
    FPS_ADDRESS: ("frames per second over about the last second", None),
    FRAME_MS_ADDRESS: ("median render time of recent frames", "time.ms"),
}
UNITS = {"tempo.bpm": "time.bpm", "latent.xform.angle": "angle.degree"}
GROUPS = {
    "blend": "network blending: per-layer values (0 = A, 1 = B, outside = overblend), curve, overrides",
    "latent": "latent space: seed, truncation, style mixing, walks, noise",
    "engine": "the engine itself: pause, overlay, snapshot, frame rate",
    "tempo": "tempo for walks and morphs",
    "preset": "presets: recall, save, morph time",
    "midi": "MIDI learn",
}


def address_of(name: str) -> str:
    """``blend.layer.3`` -> ``/blend/layer/3``."""
    return "/" + name.replace(".", "/")


def osc_type(spec: ParamSpec) -> str:
    """The OSC type tag of a parameter's value."""
    return {"float": "f", "int": "i", "bool": "T", "choice": "s", "trigger": "I"}[spec.kind]


def json_value(spec: ParamSpec, value: float) -> Any:
    """A registry value as the JSON item of ``VALUE`` (and the OSC argument streamed)."""
    if spec.kind == "int":
        return int(value)
    if spec.kind == "bool":
        return value > 0.5
    if spec.kind == "choice":
        return spec.choices[min(max(int(value), 0), len(spec.choices) - 1)]
    return float(value)


def describe_param(spec: ParamSpec, value: float | None) -> dict[str, Any]:
    """The method node of one parameter (without ``CONTENTS``)."""
    node: dict[str, Any] = {"FULL_PATH": spec.address, "TYPE": osc_type(spec), "DESCRIPTION": spec.doc or spec.name}
    if spec.kind == "trigger":
        node["ACCESS"] = ACCESS_WRITE
        node["TAGS"] = ["trigger"]
        return node
    node["ACCESS"] = ACCESS_READ_WRITE
    if value is not None:
        node["VALUE"] = [json_value(spec, value)]
    if spec.kind == "choice":
        node["RANGE"] = [{"VALS": list(spec.choices)}]
    elif spec.kind in ("float", "int"):
        cast = int if spec.kind == "int" else float
        node["RANGE"] = [{"MIN": cast(spec.lo), "MAX": cast(spec.hi)}]
        node["CLIPMODE"] = ["both"]
        if spec.name.startswith("blend.") and spec.lo < 0.0 and spec.hi > 1.0:
            node["TAGS"] = ["overblend"]        # the page marks values outside [0, 1]
    unit = UNITS.get(spec.name)
    if unit:
        node["UNIT"] = [unit]
    return node


def describe_action(address: str, presets: list[str], names: list[str]) -> dict[str, Any]:
    """The write-only method node of an OSC action (``/preset/recall``, ``/tempo/tap``, ...)."""
    node: dict[str, Any] = {"FULL_PATH": address, "ACCESS": ACCESS_WRITE, "DESCRIPTION": ACTION_ADDRESSES[address]}
    if address == "/preset/recall":
        node.update(TYPE="s", RANGE=[{"VALS": presets}],
                    OVERLOADS=[{"TYPE": "sf", "RANGE": [{"VALS": presets}, {"MIN": 0.0}],
                                "UNIT": ["", "time.second"]}])
    elif address == "/preset/save":
        node["TYPE"] = "s"
    elif address == "/midi/learn":
        node.update(TYPE="s", RANGE=[{"VALS": names}])
    else:
        node.update(TYPE="I", TAGS=["trigger"])
    return node


def describe_read_only(address: str, value: float) -> dict[str, Any]:
    doc, unit = READ_ONLY[address]
    node: dict[str, Any] = {"FULL_PATH": address, "TYPE": "f", "ACCESS": ACCESS_READ, "VALUE": [float(value)],
                            "DESCRIPTION": doc}
    if unit:
        node["UNIT"] = [unit]
    return node


@dataclass(frozen=True)
class Readings:
    """Values of the read-only methods at the time of a request."""

    fps: float = 0.0
    frame_ms: float = 0.0


class Namespace:
    """One consistent tree built from a list of specs, their values, the presets and the readings."""

    def __init__(self, specs: Iterable[ParamSpec], values: Mapping[str, float], presets: list[str],
                 readings: Readings = Readings(), name: str = "netblend"):
        specs = list(specs)
        self.root: dict[str, Any] = {"FULL_PATH": "/", "ACCESS": ACCESS_NONE, "DESCRIPTION": name, "CONTENTS": {}}
        self._nodes: dict[str, dict[str, Any]] = {"/": self.root}
        names = [s.name for s in specs if s.kind != "trigger"]
        for address in ACTION_ADDRESSES:
            self._insert(describe_action(address, presets, names))
        for spec in specs:
            if spec.address not in ACTION_ADDRESSES:      # the action wins, as it does in OscAdapter
                self._insert(describe_param(spec, values.get(spec.name)))
        for address, reading in ((FPS_ADDRESS, readings.fps), (FRAME_MS_ADDRESS, readings.frame_ms)):
            if address not in self._nodes or "TYPE" not in self._nodes[address]:
                self._insert(describe_read_only(address, reading))

    def _insert(self, leaf: dict[str, Any]) -> None:
        parts = leaf["FULL_PATH"].strip("/").split("/")
        parent = self.root
        for depth in range(1, len(parts)):
            path = "/" + "/".join(parts[:depth])
            node = self._nodes.get(path)
            if node is None:
                node = {"FULL_PATH": path, "ACCESS": ACCESS_NONE, "CONTENTS": {}}
                if depth == 1 and parts[0] in GROUPS:
                    node["DESCRIPTION"] = GROUPS[parts[0]]
                self._nodes[path] = node
            parent.setdefault("CONTENTS", {})[parts[depth - 1]] = node
            parent = node
        existing = self._nodes.get(leaf["FULL_PATH"])
        if existing is not None:                           # a container that is also a method
            contents = existing.get("CONTENTS")
            existing.clear()
            existing.update(leaf)
            if contents:
                existing["CONTENTS"] = contents
            leaf = existing
        self._nodes[leaf["FULL_PATH"]] = leaf
        parent.setdefault("CONTENTS", {})[parts[-1]] = leaf

    def node(self, address: str) -> dict[str, Any] | None:
        """The node at ``address`` (``/`` for the root), or None."""
        if address != "/":
            address = "/" + address.strip("/")
        return self._nodes.get(address)

    def methods(self) -> set[str]:
        """Addresses of every method (nodes with a ``TYPE``)."""
        return {a for a, n in self._nodes.items() if "TYPE" in n}


class QueryError(ValueError):
    """An attribute query the server does not answer: ``status`` is the HTTP status to return."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def attribute(node: dict[str, Any], name: str) -> dict[str, Any]:
    """The reply to ``GET /path?NAME``: ``{NAME: value}``, ``{}`` when the node lacks it, or an error
    (400 for an unknown attribute, 204 for ``VALUE`` of a method that cannot be read)."""
    if name not in ATTRIBUTES or name == "HTML":
        raise QueryError(400, f"unknown or unsupported attribute {name!r}")
    if name == "VALUE" and "TYPE" in node and not node.get("ACCESS", ACCESS_READ_WRITE) & ACCESS_READ:
        raise QueryError(204, "this method has no value to read")
    return {name: node[name]} if name in node else {}


def host_info(name: str, osc_ip: str | None, osc_port: int | None, ws_ip: str, ws_port: int) -> dict[str, Any]:
    """The ``HOST_INFO`` object: OSC over UDP where the engine receives it, WebSocket on this port."""
    info: dict[str, Any] = {"NAME": name, "EXTENSIONS": dict(EXTENSIONS), "OSC_TRANSPORT": "UDP",
                            "WS_IP": ws_ip, "WS_PORT": ws_port}
    if osc_port:
        info["OSC_IP"] = osc_ip or ws_ip
        info["OSC_PORT"] = osc_port
    return info
