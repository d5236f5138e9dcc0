"""W and W+ files: the official projector's ``.npz`` (key ``w``), ``.npy`` and ``.pt``.

Every file loads to a float32 ``[1, num_ws, w_dim]`` tensor for one model. A single W row
(``[w_dim]`` or ``[1, w_dim]``) broadcasts to every row. A file made for another model raises
:class:`~engine.errors.LatentFileError` naming the shape it has, the model it fits, and what this
model needs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..errors import LatentFileError

SUFFIXES = (".npz", ".npy", ".pt", ".pth")


def describe_layout(num_ws: int) -> str:
    """Which standard models have ``num_ws`` rows (StyleGAN2: 2 log2(R) - 2; StyleGAN3: 16)."""
    fits = []
    if num_ws >= 2 and num_ws % 2 == 0:
        res = 2 ** ((num_ws + 2) // 2)
        fits.append(f"a {res} px StyleGAN2 model")
    if num_ws == 16:
        fits.append("any StyleGAN3 model")
    return " or ".join(fits) if fits else "no standard StyleGAN2/3 layout"


def _read_array(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LatentFileError(f"{path.name}: unknown latent file type {suffix!r}; use .npz, .npy or .pt")
    if not path.is_file():
        raise LatentFileError(f"latent file {path} does not exist; check the path")
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "w" in data.files:
                    return np.asarray(data["w"])
                if len(data.files) == 1:
                    return np.asarray(data[data.files[0]])
                raise LatentFileError(f"{path.name} has no array named 'w' (it has {', '.join(data.files)}); "
                                      "save the latent under the key 'w'")
        if suffix == ".npy":
            return np.asarray(np.load(path, allow_pickle=False))
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except LatentFileError:
        raise
    except Exception as e:  # numpy/torch raise many types for a corrupt file
        raise LatentFileError(f"cannot read {path.name}: {type(e).__name__}: {e}; "
                              "is it a W/W+ latent saved as .npz/.npy/.pt?") from None
    if isinstance(obj, dict):
        if "w" not in obj:
            raise LatentFileError(f"{path.name} holds a dict without a 'w' entry; save the latent under 'w'")
        obj = obj["w"]
    if not isinstance(obj, torch.Tensor):
        raise LatentFileError(f"{path.name} holds a {type(obj).__name__}, not a tensor; save a W/W+ tensor")
    return obj.detach().float().numpy()


def fit_latent(w: np.ndarray | torch.Tensor, num_ws: int, w_dim: int, name: str = "latent") -> torch.Tensor:
    """Shape a W or W+ array for a model: returns float32 CPU ``[1, num_ws, w_dim]`` or raises."""
    t = torch.as_tensor(np.asarray(w) if not isinstance(w, torch.Tensor) else w).detach().float().cpu()
    shape = tuple(t.shape)
    if t.ndim == 3 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 2 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 1:
        if t.shape[0] != w_dim:
            raise LatentFileError(f"{name} holds a single W of w_dim={t.shape[0]}; "
                                  f"this model needs w_dim={w_dim}")
        return t.expand(1, num_ws, w_dim).clone()                   # [1, num_ws, w_dim]
    if t.ndim != 2:
        raise LatentFileError(f"{name} has shape {shape}; "
                              "expected [1, num_ws, w_dim], [num_ws, w_dim] or [w_dim]")
    if tuple(t.shape) != (num_ws, w_dim):
        rows, dim = t.shape
        raise LatentFileError(f"{name} has num_ws={rows}, w_dim={dim} ({describe_layout(rows)}); "
                              f"this model needs num_ws={num_ws}, w_dim={w_dim}")
    if not torch.isfinite(t).all():
        raise LatentFileError(f"{name} contains NaN or infinite values; re-export the latent")
    return t.unsqueeze(0).contiguous()                              # [1, num_ws, w_dim]


def load_latent(path: str | os.PathLike, G=None, *, num_ws: int | None = None, w_dim: int | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """Load a W/W+ file for ``G`` (or ``num_ws``/``w_dim``): float32 ``[1, num_ws, w_dim]`` on ``device``."""
    if G is not None:
        num_ws, w_dim = G.num_ws, G.w_dim
    if num_ws is None or w_dim is None:
        raise ValueError("load_latent needs a generator or both num_ws and w_dim")
    path = Path(path)
    return fit_latent(_read_array(path), num_ws, w_dim, path.name).to(device)


def save_latent(path: str | os.PathLike, ws: torch.Tensor | np.ndarray) -> Path:
    """Write ``ws`` ``[1, num_ws, w_dim]`` or ``[num_ws, w_dim]`` atomically: .npz (key ``w``), .npy, .pt."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LatentFileError(f"{path.name}: cannot save a latent as {suffix!r}; use .npz, .npy or .pt")
    w = torch.as_tensor(ws).detach().float().cpu()
    if w.ndim == 2:
        w = w.unsqueeze(0)                                          # [1, num_ws, w_dim]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            if suffix == ".npz":
                np.savez(f, w=w.numpy())
            elif suffix == ".npy":
                np.save(f, w.numpy())
            else:
                torch.save({"w": w}, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
