"""`netblend osc`: the address table a TouchDesigner user copies."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


def table(capsys, *argv: str) -> list[dict[str, str]]:
    assert main(["osc", "--format", "tsv", *argv]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out), delimiter="\t"))


def test_every_parameter_has_its_address_type_range_and_default(capsys):
    rows = {r["address"]: r for r in table(capsys, "--layers", "14")}
    assert rows["/blend/layer/13"]["name"] == "blend.layer.13" and "/blend/layer/14" not in rows
    assert rows["/blend/curve/center"]["type"] == "f"
    assert rows["/blend/curve/center"]["range"] == "0..1" and rows["/blend/curve/center"]["default"] == "0.5"
    assert rows["/blend/curve/direction"]["range"] == "up|down"
    assert rows["/latent/seed"]["type"] == "i"
    assert rows["/blend/layer"]["type"] == "f x14"                 # the list form
    assert rows["/preset/recall"]["name"] == "(action)"
    assert rows["/tempo/tap"]["name"] == "(action)"                 # listed once, as the action
    assert "/engine/fps" in rows and "/latent/noise/strength" in rows


def test_stylegan3_rows_and_mapping_aliases(capsys):
    rows = {r["address"]: r for r in table(capsys, "--family", "stylegan3", "--layers", "16",
                                           "--map", str(ROOT / "mappings" / "touchdesigner.toml"))}
    assert "/latent/xform/angle" in rows and "/latent/noise/strength" not in rows
    assert rows["/td/overblend"]["name"] == "blend.curve.amount"
    assert rows["/td/overblend"]["range"] == "0..1 -> -1..2"


def test_without_a_model_the_table_is_the_demo_shows_with_effective_ranges(capsys):
    assert main(["osc"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:5] == ["address", "name", "type", "range", "default"]
    assert "demo pair" in captured.err and "14 layers" in captured.err
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert "/blend/layer/13" in rows and "/blend/layer/14" not in rows        # the demo's 14 layers
    # the per-layer values are accepted from -10 to 11 but clamped to the safety range -2..3
    assert rows["/blend/layer/3"][3] == "-2..3" and "up to -10..11" in " ".join(rows["/blend/layer/3"])
    assert rows["/blend/curve/center"][3] == "0..1"


def test_json_has_structured_ranges_and_choices(capsys):
    assert main(["osc", "--layers", "18", "--format", "json"]) == 0
    rows = {r["address"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["/blend/layer/17"]["min"] == -2 and rows["/blend/layer/17"]["max"] == 3
    assert rows["/blend/layer/17"]["accepts"] == [-10, 11]
    assert rows["/latent/walk/mode"]["choices"][:3] == ["off", "lerp", "slerp"]
    assert rows["/engine/dump"]["kind"] == "action" and rows["/blend/layer"]["count"] == 18


def test_clear_errors(capsys):
    assert main(["osc", "--layers", "0"]) == 2
    assert "--layers 0" in capsys.readouterr().err
    assert main(["osc", "--family", "stylegan3"]) == 2
    assert "--layers" in capsys.readouterr().err
