"""``netblend inspect``: one model's architecture and layer table; two models' change per layer."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import engine
from engine.cli import main


def test_inspect_one_model_prints_architecture_and_aligned_layer_table(saved, capsys):
    assert main(["inspect", saved["sg2_64_A"]]) == 0
    out = capsys.readouterr().out
    assert "stylegan2 (skip)" in out and "64 x 64" in out and "64 / 128 / 0" in out
    assert "num_ws      10" in out and "parameters  855,560" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["index", "name"])
    rows = lines[header + 1: header + 11]
    assert rows[0].split()[0] == "0" and "b4.const" in rows[0] and "const" in rows[0]
    assert rows[9].split()[0] == "9" and "torgb" in rows[9]
    col = lines[header].index("resolution") + len("resolution")   # right-aligned under the header
    assert all(row[col - 1].isdigit() for row in rows)


def test_inspect_pair_prints_change_per_layer_and_plots(saved, tmp_path, capsys):
    png = tmp_path / "change.png"
    assert main(["inspect", saved["sg2_64_A"], saved["sg2_64_B"], "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "these 2 models blend" in out
    A = engine.load_generator(saved["sg2_64_A"])
    B = engine.load_generator(saved["sg2_64_B"])
    keys = [k for k in A.layers[3].keys if not k.endswith("noise_const")]
    sa, sb = A.state_dict(), B.state_dict()
    expected = (sum(float((sb[k] - sa[k]).pow(2).sum()) for k in keys)
                / sum(float(sa[k].pow(2).sum()) for k in keys)) ** 0.5
    row = next(line for line in out.splitlines() if line.split()[:1] == ["3"])
    assert float(row.split()[-2 if row.split()[-1].startswith("#") else -1]) == pytest.approx(expected, abs=1e-4)
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 300
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 16)) > 3        # bars drawn, not a blank image


def test_inspect_incompatible_pair_says_why(saved, capsys):
    assert main(["inspect", saved["sg2_64_A"], saved["small"]]) == 1
    out = capsys.readouterr().out
    assert "do not blend" in out and "synthesis.b64" in out and "resolution" in out


def test_inspect_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.pkl")]) == 2
    assert "nope.pkl" in capsys.readouterr().err


def test_distance_of_identical_models_is_zero(saved):
    from engine.blend.distance import layer_distances

    A = engine.load_generator(saved["sg2_64_A"])
    assert all(r.relative_change == 0.0 for r in layer_distances(A, A))
    assert torch.is_tensor(A.layers and A.state_dict()["mapping.w_avg"])
