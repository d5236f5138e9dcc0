"""``netblend directions``: writes the file, uses the cache the second time, says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.cli import main
from engine.commands.directions import parse_layers
from engine.errors import LatentFileError
from engine.latents import directions as directions_module
from engine.latents import load_directions


def test_directions_writes_the_file_then_reads_the_cache(saved, tmp_path, capsys, monkeypatch):
    calls = []
    compute = directions_module.compute_directions
    monkeypatch.setattr(directions_module, "compute_directions", lambda *a: calls.append(1) or compute(*a))
    first = tmp_path / "dirs.npz"
    args = ["directions", saved["sg2_64_B"], "--layers", "0-3,5", "-k", "6", "--samples", "100", "--seed", "4"]
    assert main([*args, "-o", str(first)]) == 0
    out = capsys.readouterr().out
    assert "sefa: 6 directions of w_dim 128 (computed" in out and calls == [1]
    found = load_directions(first, w_dim=128)
    assert found.directions.shape == (6, 128) and found.values.shape == (6,) and found.layers == (0, 1, 2, 3, 5)
    assert np.allclose(np.linalg.norm(found.directions, axis=1), 1.0, atol=1e-6)
    with np.load(first) as data:
        assert {"directions", "values"} <= set(data.files)
    second = tmp_path / "again.npz"
    assert main([*args, "-o", str(second)]) == 0
    assert "(from the cache)" in capsys.readouterr().out and calls == [1]
    assert np.array_equal(load_directions(second).directions, found.directions)


def test_ganspace_from_the_command_line(saved, tmp_path):
    out = tmp_path / "pca.npz"
    assert main(["directions", saved["sg2_64_A"], "--method", "ganspace", "-k", "4", "--samples", "200",
                 "-o", str(out)]) == 0
    found = load_directions(out)
    assert found.method == "ganspace" and np.allclose(found.values, found.spread)
    G = engine.load_generator(saved["sg2_64_A"])
    expected = directions_module.directions_for(G, directions_module.DirectionConfig(
        method="ganspace", count=4, samples=200))
    assert np.array_equal(found.directions, expected.directions)


def test_bad_arguments_are_one_line_errors(saved, tmp_path, capsys):
    assert main(["directions", saved["sg2_64_A"], "--layers", "40", "-o", str(tmp_path / "d.npz")]) == 2
    assert "layer 40 does not exist; this model has layers 0..9" in capsys.readouterr().err
    assert main(["directions", saved["sg2_64_A"], "-o", str(tmp_path / "d.txt")]) == 2
    assert "written as .npz" in capsys.readouterr().err
    (tmp_path / "taken.npz").write_bytes(b"")
    assert main(["directions", saved["sg2_64_A"], "-o", str(tmp_path / "taken.npz")]) == 2
    assert "--force" in capsys.readouterr().err
    assert parse_layers("0-2,7") == (0, 1, 2, 7)
    for bad in ("a", "3-1", ","):
        with pytest.raises(LatentFileError, match="--layers"):
            parse_layers(bad)
