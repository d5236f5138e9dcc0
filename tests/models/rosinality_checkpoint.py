"""Test helper: official StyleGAN2 keys -> a rosinality/stylegan2-pytorch ``g_ema`` state dict.

The inverse of ``engine.models.loaders.rosinality.remap_keys`` (written independently from the key
table in that module's docstring), used to build rosinality checkpoints from known generators.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

BLUR_TAPS = torch.tensor([1.0, 3.0, 3.0, 1.0])


def rosinality_blur_kernel(factor: int = 2) -> torch.Tensor:
    """rosinality's stored upsampling kernel: the normalised 2-D kernel times factor**2."""
    k = BLUR_TAPS[:, None] * BLUR_TAPS[None, :]                 # [4, 4]
    return k / k.sum() * factor ** 2


def to_rosinality(sd: Mapping[str, torch.Tensor], resolution: int) -> dict[str, torch.Tensor]:
    """Rename and reshape an official skip-architecture StyleGAN2 state dict to rosinality's layout."""
    out: dict[str, torch.Tensor] = {}
    fc = sorted(int(k.split(".")[1][2:]) for k in sd if k.startswith("mapping.fc") and k.endswith(".weight"))
    for i in fc:
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"].clone()
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"].clone()
    out["input.input"] = sd["synthesis.b4.const"][None].clone()
    noise = 0
    for b in range(int(math.log2(resolution)) - 1):
        res = 4 * 2 ** b
        pre = f"synthesis.b{res}."
        convs = [("conv1", "conv1")] if b == 0 else [(f"convs.{2 * b - 2}", "conv0"), (f"convs.{2 * b - 1}", "conv1")]
        for dst, src in convs:
            out[f"{dst}.conv.weight"] = sd[pre + f"{src}.weight"][None].clone()       # [1, O, I, 3, 3]
            out[f"{dst}.conv.modulation.weight"] = sd[pre + f"{src}.affine.weight"].clone()
            out[f"{dst}.conv.modulation.bias"] = sd[pre + f"{src}.affine.bias"].clone()
            out[f"{dst}.noise.weight"] = sd[pre + f"{src}.noise_strength"].reshape(1).clone()
            out[f"{dst}.activate.bias"] = sd[pre + f"{src}.bias"].clone()
            if src == "conv0":
                out[f"{dst}.conv.blur.kernel"] = rosinality_blur_kernel()
            out[f"noises.noise_{noise}"] = sd[pre + f"{src}.noise_const"][None, None].clone()  # [1, 1, R, R]
            noise += 1
        rgb = "to_rgb1" if b == 0 else f"to_rgbs.{b - 1}"
        out[f"{rgb}.conv.weight"] = sd[pre + "torgb.weight"][None].clone()             # [1, 3, C, 1, 1]
        out[f"{rgb}.conv.modulation.weight"] = sd[pre + "torgb.affine.weight"].clone()
        out[f"{rgb}.conv.modulation.bias"] = sd[pre + "torgb.affine.bias"].clone()
        out[f"{rgb}.bias"] = sd[pre + "torgb.bias"].reshape(1, 3, 1, 1).clone()
        if b > 0:
            out[f"{rgb}.upsample.kernel"] = rosinality_blur_kernel()
    return out
