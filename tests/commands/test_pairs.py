"""``netblend pairs``: counts, sizes, the A half is model A, the B half is the blend, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import engine
from engine.blend.generator import BlendedGenerator
from engine.blend.spec import parse_mask
from engine.cli import main
from engine.commands import pairs as pairs_command
from engine.latents import save_latent, seed_to_z

MASK = "crossover@16"


def rendered(saved, seed: int, psi: float):
    """Model A's and the blend's images of ``seed`` as uint8 [H, W, 3], rendered here independently."""
    A, B = (engine.load_generator(saved[n]) for n in ("sg2_64_A", "sg2_64_B"))
    blended = BlendedGenerator([A, B])
    blended.apply(parse_mask(MASK, blended.layers))
    z = torch.from_numpy(seed_to_z(seed, A.z_dim)).float()
    with torch.no_grad():
        images = [G.synthesis(G.mapping(z, None, truncation_psi=psi)) for G in (A, blended)]
    return [img[0].permute(1, 2, 0).mul(127.5).add(128).clamp(0, 255).to(torch.uint8).numpy() for img in images]


def test_aligned_pairs_hold_model_a_then_the_blend(saved, tmp_path):
    out = tmp_path / "data"
    assert main(["pairs", saved["sg2_64_A"], saved["sg2_64_B"], "--mask", MASK, "--seeds", "3-5,9",
                 "--psi", "0.7", "--quiet", "-o", str(out)]) == 0
    files = sorted(p.name for p in (out / "train").iterdir())
    assert files == ["3.png", "4.png", "5.png", "9.png"]
    pair = np.asarray(Image.open(out / "train" / "9.png"))
    assert pair.shape == (64, 128, 3) and pair.dtype == np.uint8
    image_a, image_b = rendered(saved, 9, 0.7)
    assert np.array_equal(pair[:, :64], image_a)
    assert np.array_equal(pair[:, 64:], image_b)
    assert not np.array_equal(image_a, image_b)


def test_folders_layout_and_wplus_files(saved, tmp_path):
    A = engine.load_generator(saved["sg2_64_A"])
    with torch.no_grad():
        ws = A.mapping(torch.from_numpy(seed_to_z(12, A.z_dim)).float(), None)
    save_latent(tmp_path / "photo.npz", ws)
    out = tmp_path / "data"
    assert main(["pairs", saved["sg2_64_A"], saved["sg2_64_B"], "--mask", MASK, "--wplus",
                 str(tmp_path / "photo.npz"), "--layout", "folders", "--quiet", "-o", str(out)]) == 0
    image_a = np.asarray(Image.open(out / "A" / "train" / "photo.png"))
    image_b = np.asarray(Image.open(out / "B" / "train" / "photo.png"))
    expected_a, expected_b = rendered(saved, 12, 1.0)                   # that W+ is seed 12's, psi 1
    assert np.array_equal(image_a, expected_a) and np.array_equal(image_b, expected_b)


def test_an_interrupted_run_resumes_where_it_stopped(saved, tmp_path, monkeypatch, capsys):
    out = tmp_path / "data"
    args = ["pairs", saved["sg2_64_A"], saved["sg2_64_B"], "--mask", MASK, "--seeds", "0-5", "--quiet",
            "-o", str(out)]
    real_write = pairs_command._write_png
    written = []

    def interrupted(path, pixels):                  # dies in the middle of the 4th file, like Ctrl-C
        if len(written) == 3:
            (path.parent / f".{path.stem}.abc.tmp").write_bytes(b"half a png")
            raise KeyboardInterrupt
        written.append(path.name)
        real_write(path, pixels)

    monkeypatch.setattr(pairs_command, "_write_png", interrupted)
    assert main(args) == 130
    assert sorted(p.name for p in (out / "train").iterdir()) == [".3.abc.tmp", "0.png", "1.png", "2.png"]
    before = {p.name: p.stat().st_mtime_ns for p in (out / "train").glob("*.png")}
    monkeypatch.setattr(pairs_command, "_write_png", real_write)
    capsys.readouterr()
    assert main(args) == 0
    assert "6 pairs" in (said := capsys.readouterr().out) and "3 already there, 3 to render" in said
    assert "removed 1 unfinished file" in said
    assert sorted(p.name for p in (out / "train").iterdir()) == [f"{s}.png" for s in range(6)]
    assert all((out / "train" / name).stat().st_mtime_ns == t for name, t in before.items())   # not redone
    image_a, image_b = rendered(saved, 3, 1.0)
    pair = np.asarray(Image.open(out / "train" / "3.png"))
    assert np.array_equal(pair[:, :64], image_a) and np.array_equal(pair[:, 64:], image_b)


def test_bad_seeds_and_masks_are_one_line_errors(saved, tmp_path, capsys):
    base = ["pairs", saved["sg2_64_A"], saved["sg2_64_B"], "-o", str(tmp_path / "d")]
    assert main([*base, "--mask", MASK, "--seeds", "5-2"]) == 2
    assert "runs backwards; write 2-5" in capsys.readouterr().err
    assert main([*base, "--mask", "crossover@12", "--seeds", "1"]) == 2
    assert "crossover@12" in capsys.readouterr().err
    assert pairs_command.parse_seeds("1,3-4,3") == [1, 3, 4]
    with pytest.raises(Exception, match="--seeds"):
        pairs_command.parse_seeds("x")
