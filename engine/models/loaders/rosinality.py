"""rosinality/stylegan2-pytorch checkpoints (``.pt``: ``{'g_ema': state_dict, 'latent_avg': ...}``).

Key layout and conventions of that code base, and how each maps to the official StyleGAN2-ADA keys
(the TF-to-PyTorch converters of both code bases agree, so every weight carries over unchanged up to
a reshape):

==============================================  ==============================================
rosinality                                      official (``synthesis.`` / ``mapping.`` prefix)
==============================================  ==============================================
``style.{i}.weight/bias`` (i = 1..n_mlp)         ``mapping.fc{i-1}.weight/bias``; both store the
                                                 weight divided by lr_mul (0.01) and the raw bias
``input.input`` [1, C, 4, 4]                     ``b4.const`` [C, 4, 4]
``conv1`` / ``convs.{2k}`` / ``convs.{2k+1}``     ``b4.conv1`` / ``b{8*2^k}.conv0`` / ``.conv1``
  ``.conv.weight`` [1, O, I, 3, 3]                 ``.weight`` [O, I, 3, 3] (both flip TF's up-conv
                                                   kernels, so no flip between them)
  ``.conv.modulation.weight/bias``                 ``.affine.weight/bias`` (bias includes the +1)
  ``.noise.weight`` [1]                            ``.noise_strength`` []
  ``.activate.bias`` [O]                           ``.bias`` [O]
  ``.conv.blur.kernel`` [4, 4]                     ``.resample_filter`` (= kernel / kernel.sum())
``to_rgb1`` / ``to_rgbs.{k}``                     ``b4.torgb`` / ``b{8*2^k}.torgb``
  ``.conv.weight`` [1, 3, C, 1, 1]                 ``.weight`` [3, C, 1, 1]
  ``.bias`` [1, 3, 1, 1]                           ``.bias`` [3]
  ``.upsample.kernel`` [4, 4]                      ``b{8*2^k}.resample_filter`` (normalised)
``noises.noise_{j}`` [1, 1, R, R]                 ``noise_const`` [R, R] of the j-th conv layer
``latent_avg`` (beside ``g_ema``) [w_dim]        ``mapping.w_avg``
==============================================  ==============================================

Its modulated convs scale the weight by 1/sqrt(fan_in) before demodulating (which cancels it) and its
ToRGB scales the style the same way the official ToRGB does; biases and noise follow the same order.
The architecture is always 'skip' with 3 image channels, no class label and no conv clamping.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import re
from pathlib import Path

import torch

from engine.errors import ModelLoadError
from engine.models.checks import check_tensor_layout

from .model_file import ZipBombError, check_zip_sizes, open_model_file

DEFAULT_FILTER = [1.0, 3.0, 3.0, 1.0]
_CONV_PARTS = {"conv.weight": "weight", "conv.modulation.weight": "affine.weight",
               "conv.modulation.bias": "affine.bias", "noise.weight": "noise_strength",
               "activate.bias": "bias"}
_RGB_PARTS = {"conv.weight": "weight", "conv.modulation.weight": "affine.weight",
              "conv.modulation.bias": "affine.bias", "bias": "bias"}
# Rank of every rosinality generator tensor, by key pattern (checked before any reshape).
_RANKS = ((r"style\.\d+\.weight", 2), (r"style\.\d+\.bias", 1), (r"input\.input", 4),
          (r".*\.conv\.weight", 5), (r".*\.modulation\.weight", 2), (r".*\.modulation\.bias", 1),
          (r".*\.noise\.weight", 1), (r".*\.activate\.bias", 1), (r"to_rgb.*\.bias", 4),
          (r".*\.kernel", 2), (r"noises\.noise_\d+", 4))
# Torch-load failures of a corrupt file (RecursionError is a RuntimeError).
_LOAD_ERRORS = (RuntimeError, EOFError, ValueError, OSError, TypeError, LookupError, AttributeError,
                ArithmeticError, UnicodeDecodeError, ImportError)


def read_checkpoint(path: Path) -> dict:
    """``torch.load(weights_only=True)`` of a checkpoint; training args (a Namespace) are allowed.

    A zip checkpoint whose members would inflate far past the file's size is refused before inflating.
    """
    with open_model_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            check_zip_sizes(f, size)
            with torch.serialization.safe_globals([argparse.Namespace]):
                return torch.load(f, map_location="cpu", weights_only=True)
        except ZipBombError as e:
            raise ModelLoadError(f"{path}: refused to load: {e}; the file is corrupt or crafted") from e
        except pickle.UnpicklingError as e:
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else "unsafe content"
            raise ModelLoadError(f"{path}: refused to load: the checkpoint holds more than tensors ({first}); "
                                 f"use a plain rosinality checkpoint from a source you trust") from e
        except MemoryError as e:
            raise ModelLoadError(f"{path}: ran out of memory while reading the checkpoint (it declares more "
                                 f"data than fits in memory: corrupt, crafted, or too large)") from e
        except _LOAD_ERRORS as e:
            raise ModelLoadError(f"{path}: not a readable PyTorch checkpoint (truncated or corrupt); "
                                 f"download or copy the file again") from e


def is_rosinality_state_dict(state: object) -> bool:
    """Whether ``state`` has rosinality's generator keys (``style.1.weight``, ``input.input``, ...)."""
    return isinstance(state, dict) and "input.input" in state and "style.1.weight" in state


def convert_checkpoint(checkpoint: object, path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(init_kwargs, state_dict)`` in official StyleGAN2-ADA form from a rosinality checkpoint."""
    if not isinstance(checkpoint, dict) or not is_rosinality_state_dict(checkpoint.get("g_ema")):
        found = sorted(map(str, checkpoint))[:6] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ModelLoadError(f"{path}: a PyTorch checkpoint without a rosinality 'g_ema' generator "
                             f"(found {found}); pass the checkpoint saved by rosinality/stylegan2-pytorch")
    g_ema: dict = checkpoint["g_ema"]
    source = {k: v for k, v in g_ema.items() if isinstance(v, torch.Tensor)}
    latent_avg = checkpoint.get("latent_avg")
    latent_avg = latent_avg if isinstance(latent_avg, torch.Tensor) else None
    try:
        if any(not isinstance(k, str) for k in source):
            raise ModelLoadError("its g_ema has keys that are not names")
        check_tensor_layout({**source, **({"latent_avg": latent_avg} if latent_avg is not None else {})})
        _check_ranks(source)
    except ModelLoadError as e:
        raise ModelLoadError(f"{path}: not a usable rosinality checkpoint: {e}") from e
    kwargs = infer_kwargs(source, path)
    state_dict = remap_keys(source, kwargs["img_resolution"], path)
    if latent_avg is not None:
        state_dict["mapping.w_avg"] = latent_avg.reshape(-1).float()       # [w_dim]
    return kwargs, state_dict


def _check_ranks(source: dict[str, torch.Tensor]) -> None:
    for key, tensor in source.items():
        rank = next((rank for pattern, rank in _RANKS if re.fullmatch(pattern, key)), None)
        if rank is not None and tensor.ndim != rank:
            raise ModelLoadError(f"{key} has {tensor.ndim} dimensions (shape {list(tensor.shape)}), not {rank}")
        if key.endswith("noise.weight") and tensor.numel() != 1:
            raise ModelLoadError(f"{key} holds {tensor.numel()} values, not 1")
        if (rank == 5 or key == "input.input") and tensor.shape[0] != 1:
            raise ModelLoadError(f"{key} has the shape {list(tensor.shape)}; rosinality stores a batch of 1")


def infer_kwargs(source: dict[str, torch.Tensor], path: Path) -> dict:
    """Official nested kwargs (resolution, style dim, n_mlp, channel base/max) from rosinality weights."""
    style_dim = _tensor(source, "style.1.weight", path).shape[1]
    n_mlp = sum(1 for k in source if re.fullmatch(r"style\.\d+\.weight", k))
    num_rgbs = sum(1 for k in source if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k))
    if num_rgbs > 12:
        raise ModelLoadError(f"{path}: {num_rgbs} to_rgbs layers is more than any rosinality generator "
                             f"has (a 16384 px model has 12); the checkpoint is corrupt")
    resolution = 4 * 2 ** num_rgbs
    channels = {4: _tensor(source, "conv1.conv.weight", path).shape[1]}
    for k in range(num_rgbs):
        channels[8 * 2 ** k] = _tensor(source, f"convs.{2 * k}.conv.weight", path).shape[1]
    channel_base, channel_max = _channel_formula(channels, path)
    return {
        "z_dim": style_dim, "w_dim": style_dim, "c_dim": 0, "img_resolution": resolution, "img_channels": 3,
        "mapping_kwargs": {"num_layers": n_mlp},
        "synthesis_kwargs": {"channel_base": channel_base, "channel_max": channel_max,
                             "num_fp16_res": 0, "conv_clamp": None, "architecture": "skip"},
    }


def _tensor(source: dict[str, torch.Tensor], key: str, path: Path) -> torch.Tensor:
    if key not in source:
        raise _missing(path, key)
    return source[key]


def _missing(path: Path, key: str) -> ModelLoadError:
    return ModelLoadError(f"{path}: the rosinality generator lacks {key!r} (truncated or a different "
                          f"variant); pass a complete rosinality/stylegan2-pytorch checkpoint")


def _channel_formula(channels: dict[int, int], path: Path) -> tuple[int, int]:
    """``(channel_base, channel_max)`` with ``min(channel_base // res, channel_max) == channels[res]``."""
    channel_max = max(channels.values())
    narrower = [res for res, ch in sorted(channels.items()) if ch < channel_max]
    channel_base = channels[narrower[0]] * narrower[0] if narrower else channel_max * max(channels)
    if any(min(channel_base // res, channel_max) != ch for res, ch in channels.items()):
        raise ModelLoadError(f"{path}: channel counts per resolution {channels} follow no "
                             f"channel_base/channel_max rule; this rosinality variant is not supported")
    return channel_base, channel_max


def remap_keys(source: dict[str, torch.Tensor], resolution: int, path: Path) -> dict[str, torch.Tensor]:
    """Rename and reshape rosinality generator tensors to the official StyleGAN2-ADA keys."""
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(key: str) -> torch.Tensor:
        used.add(key)
        return _tensor(source, key, path)

    for i in range(1, sum(1 for k in source if re.fullmatch(r"style\.\d+\.weight", k)) + 1):
        out[f"mapping.fc{i - 1}.weight"] = take(f"style.{i}.weight")
        out[f"mapping.fc{i - 1}.bias"] = take(f"style.{i}.bias")
    out["mapping.w_avg"] = torch.zeros(out["mapping.fc0.weight"].shape[0])
    default = _filter_2d(torch.tensor(DEFAULT_FILTER))
    num_blocks = int(math.log2(resolution)) - 1
    layer = 0                                                     # noise index = conv layer index
    for b in range(num_blocks):
        res = 4 * 2 ** b
        pre = f"synthesis.b{res}."
        conv_names = [("conv1", "conv1")] if b == 0 else [(f"convs.{2 * b - 2}", "conv0"),
                                                         (f"convs.{2 * b - 1}", "conv1")]
        rgb = "to_rgb1" if b == 0 else f"to_rgbs.{b - 1}"
        if b == 0:
            out[pre + "const"] = take("input.input")[0]          # [C, 4, 4]
        blur = source.get(f"{rgb}.upsample.kernel")
        used.add(f"{rgb}.upsample.kernel")
        out[pre + "resample_filter"] = _normalised(blur) if blur is not None else default.clone()
        for src, dst in conv_names:
            for part, name in _CONV_PARTS.items():
                t = take(f"{src}.{part}")
                out[pre + f"{dst}.{name}"] = t[0] if name == "weight" else t.reshape(-1) if name == "bias" else t
            out[pre + f"{dst}.noise_strength"] = out[pre + f"{dst}.noise_strength"].reshape(())
            kernel = source.get(f"{src}.conv.blur.kernel")
            used.add(f"{src}.conv.blur.kernel")
            out[pre + f"{dst}.resample_filter"] = _normalised(kernel) if kernel is not None else default.clone()
            out[pre + f"{dst}.noise_const"] = take(f"noises.noise_{layer}")[0, 0]   # [R, R]
            layer += 1
        for part, name in _RGB_PARTS.items():
            t = take(f"{rgb}.{part}")
            out[pre + f"torgb.{name}"] = t[0] if name == "weight" else t.reshape(-1) if name == "bias" else t
    unknown = sorted(set(source) - used)
    if unknown:
        raise ModelLoadError(f"{path}: unexpected rosinality keys {unknown[:4]}; this variant of "
                             f"rosinality's generator is not supported")
    return out


def _filter_2d(taps: torch.Tensor) -> torch.Tensor:
    f = taps[:, None] * taps[None, :]                             # [4, 4]
    return f / f.sum()


def _normalised(kernel: torch.Tensor) -> torch.Tensor:
    return (kernel / kernel.sum()).float()                        # [4, 4]
