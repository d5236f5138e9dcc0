"""`netblend osc`: the address table a TouchDesigner user copies."""

from __future__ import annotations

import csv
import io
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


def test_readable_table_and_a_clear_error(capsys):
    assert main(["osc"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:5] == ["address", "name", "type", "range", "default"]
    assert main(["osc", "--layers", "0"]) == 2
    assert "--layers 0" in capsys.readouterr().err
