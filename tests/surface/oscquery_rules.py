"""The Vidvox OSCQuery proposal (3rd revision) as checks on a JSON node tree: what a client may rely on."""

from __future__ import annotations

VALUE_TAGS = set("ifsThdSc")          # tags that carry a JSON value (T/F: a JSON boolean, as libossia does)
NO_VALUE_TAGS = set("FNI")
CLIPMODES = {"none", "low", "high", "both"}


def value_slots(type_tag: str) -> int:
    return sum(1 for t in type_tag if t not in "[]")


def check_value(tag: str, value, where: str) -> None:
    if tag == "f" or tag == "d":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r} is not a number"
    elif tag in "ih":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not an integer"
    elif tag in "sS":
        assert isinstance(value, str), f"{where}: {value!r} is not a string"
    elif tag in "TF":
        assert value is None or isinstance(value, bool), f"{where}: {value!r} is not a boolean or null"
    elif tag in "NI":
        assert value is None, f"{where}: {value!r} for a value-less type"


def check_node(node: dict, path: str = "/") -> int:
    """Assert ``node`` (and everything below it) follows the proposal; returns the number of methods."""
    assert node.get("FULL_PATH") == path, f"FULL_PATH {node.get('FULL_PATH')!r} at {path}"
    access = node.get("ACCESS", 3)
    assert access in (0, 1, 2, 3), f"{path}: ACCESS {access!r}"
    if "DESCRIPTION" in node:
        assert isinstance(node["DESCRIPTION"], str)
    methods = 0
    if "TYPE" in node:
        methods = 1
        tag = node["TYPE"]
        known = VALUE_TAGS | NO_VALUE_TAGS | set("[]")
        assert isinstance(tag, str) and tag and set(tag) <= known, f"{path}: TYPE {tag!r}"
        slots = value_slots(tag)
        if "VALUE" in node:
            assert access & 1, f"{path}: a VALUE on a method that cannot be read"
            assert isinstance(node["VALUE"], list) and len(node["VALUE"]) == slots, f"{path}: VALUE {node['VALUE']!r}"
            for t, v in zip(tag, node["VALUE"]):
                check_value(t, v, path)
        for key in ("RANGE", "CLIPMODE", "UNIT"):
            if key in node:
                assert isinstance(node[key], list) and len(node[key]) in (1, slots), f"{path}: {key} {node[key]!r}"
        for item in node.get("RANGE", []):
            assert isinstance(item, dict) and set(item) <= {"MIN", "MAX", "VALS"}, f"{path}: RANGE item {item!r}"
            if "MIN" in item and "MAX" in item:
                assert item["MIN"] <= item["MAX"], f"{path}: MIN above MAX"
            if "VALS" in item:
                assert isinstance(item["VALS"], list)
        if "RANGE" in node and "VALUE" in node:
            for t, item, v in zip(tag, node["RANGE"], node["VALUE"]):
                if "MIN" in item and "MAX" in item and t in "if":
                    assert item["MIN"] <= v <= item["MAX"], f"{path}: VALUE {v} outside its RANGE"
                if "VALS" in item:
                    assert v in item["VALS"], f"{path}: VALUE {v!r} not among VALS"
        for mode in node.get("CLIPMODE", []):
            assert mode in CLIPMODES, f"{path}: CLIPMODE {mode!r}"
        for unit in node.get("UNIT", []):
            assert isinstance(unit, str)
        for overload in node.get("OVERLOADS", []):
            assert "CONTENTS" not in overload and isinstance(overload.get("TYPE"), str)
    else:
        assert access == 0 and "VALUE" not in node, f"{path}: a container with a value"
    for name, child in node.get("CONTENTS", {}).items():
        assert "/" not in name and name, f"{path}: child name {name!r}"
        methods += check_node(child, (path.rstrip("/") + "/" + name))
    return methods
