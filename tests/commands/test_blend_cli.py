"""``netblend blend``: writes a blended model that renders like the official blend reference."""

from __future__ import annotations

import numpy as np
import torch

import engine
from engine.cli import main


def test_blend_writes_the_official_swap(oracle, saved, tmp_path, capsys):
    out = tmp_path / "swap.netblend.safetensors"
    assert main(["blend", saved["sg2_64_A"], saved["sg2_64_B"], "--mask", "4:0,8:0,16:1,32:1,64:1",
                 "-o", str(out)]) == 0
    G = engine.load_generator(out)
    ref = np.load(oracle / "sg2_64_blend_swap_ref.npz")
    with torch.inference_mode():
        img = G.synthesis(G.mapping(torch.from_numpy(ref["z_seed1"]).float(), None), noise_mode="const")
    expected = ref["img_s1_psi1.0"]
    assert float(np.abs(img.numpy() - expected).max()) <= 2e-5 * max(1.0, float(np.abs(expected).max()))


def test_blend_interp_and_weights_write_the_lerp(saved, tmp_path):
    A, B = (engine.load_generator(saved[n]) for n in ("sg2_64_A", "sg2_64_B"))
    key = "synthesis.b16.conv1.weight"
    half = (A.state_dict()[key] + B.state_dict()[key]) / 2
    out = tmp_path / "half.netblend.safetensors"
    assert main(["blend", saved["sg2_64_A"], saved["sg2_64_B"], "--mask", "interp=0.5", "-o", str(out)]) == 0
    assert torch.allclose(engine.load_generator(out).state_dict()[key], half, atol=1e-6)
    out3 = tmp_path / "three.netblend.safetensors"
    assert main(["blend", saved["sg2_64_A"], saved["sg2_64_B"], saved["sg2_64_A"], "--weights", "0,1,1",
                 "-o", str(out3)]) == 0
    assert torch.allclose(engine.load_generator(out3).state_dict()[key], half, atol=1e-6)


def test_blend_bad_mask_and_existing_output_are_one_line_errors(saved, tmp_path, capsys):
    out = tmp_path / "x.netblend.safetensors"
    assert main(["blend", saved["sg2_64_A"], saved["sg2_64_B"], "--mask", "crossover@12", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "crossover@12" in err and "4, 8, 16, 32, 64" in err and len(err.strip().splitlines()) == 1
    out.write_bytes(b"keep me")
    assert main(["blend", saved["sg2_64_A"], saved["sg2_64_B"], "--mask", "interp=1", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"keep me"
