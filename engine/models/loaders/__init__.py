"""``load_generator``: every supported model file behind one call, recognised by content.

- official training pickles (``.pkl``), read by a whitelisting unpickler (``safe_pickle``);
- rosinality ``.pt`` checkpoints, remapped to the official keys (``rosinality``);
- netblend's own safetensors-based format (``native``), which is also the cache format: with
  ``cache=True`` a converted copy of every other kind is kept under the user cache folder
  (``engine.core.paths.cache_dir``), keyed by the source's absolute path, size and modification time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import string
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from engine.core import paths
from engine.errors import ModelLoadError, NetblendError
from engine.models.checks import (
    check_finite,
    check_kwargs,
    check_kwargs_fit_weights,
    check_parameter_bound,
    check_tensor_layout,
    plain_kwargs,
)

from . import native, rosinality, safe_pickle
from .model_file import check_model_file, open_model_file

log = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
# torch.save's legacy (pre-1.6, non-zip) stream starts by pickling this magic number.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
SNIFF_BYTES = 512
# Host and device allocation failures (torch raises its own OutOfMemoryError for CUDA and MPS).
OUT_OF_MEMORY: tuple[type[BaseException], ...] = (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))
W_AVG_SAMPLES = 10_000
_PRINTABLE = set(string.printable.encode())


def cache_dir() -> Path:
    """Where converted models are cached (see :func:`engine.core.paths.cache_dir`)."""
    return paths.cache_dir("models")


def detect_format(path: str | os.PathLike) -> str:
    """'native', 'pickle' or 'torch' from the file's first bytes; ModelLoadError for anything else."""
    with open_model_file(path) as f:
        head = f.read(SNIFF_BYTES)
    path = Path(path).expanduser()
    if not head:
        raise ModelLoadError(f"{path}: the file is empty; copy or download the model again")
    if native.looks_native(head):
        return "native"
    if head.startswith(ZIP_MAGIC) or head.startswith(TORCH_LEGACY_MAGIC):
        return "torch"
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5:
        return "pickle"
    if head[0] == 0x80 and len(head) < 16:
        raise ModelLoadError(f"{path}: a {len(head)}-byte file, far too short for a model (truncated?); "
                             f"copy or download the model again")
    if all(b in _PRINTABLE for b in head) or _is_utf8_text(head):
        raise ModelLoadError(f"{path}: a text file, not a model; pass a StyleGAN .pkl, a rosinality .pt "
                             f"or a {native.SUFFIX} file")
    raise ModelLoadError(f"{path}: unknown file format (not a StyleGAN .pkl, rosinality .pt or "
                         f"{native.SUFFIX} file); check the path")


def _is_utf8_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def read_model(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], str | None]:
    """``(init_kwargs, state_dict, family)`` of any supported file, without building a generator.

    ``family`` is known only for the native format (None otherwise: ``build_generator`` detects it).
    Only regular files are read (a FIFO or device is refused without blocking); every failure is a
    one-line ``ModelLoadError`` naming the file, a shortage of memory included.
    """
    path = check_model_file(path)
    try:
        kind = detect_format(path)
        if kind == "native":
            model = native.read_native(path)
            return model.init_kwargs, model.state_dict, model.family
        if kind == "pickle":
            kwargs, state_dict = safe_pickle.read_training_pickle(path)
            return kwargs, state_dict, None
        checkpoint = rosinality.read_checkpoint(path)
        kwargs, state_dict = rosinality.convert_checkpoint(checkpoint, path)
        return kwargs, state_dict, None
    except MemoryError as e:
        raise ModelLoadError(f"{path}: ran out of memory while reading the model (it needs more memory than "
                             f"is free, or the file is corrupt)") from e
    except RecursionError as e:
        raise ModelLoadError(f"{path}: the file nests its data too deeply (corrupt or crafted)") from e


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu",
                   cache: bool = True) -> torch.nn.Module:
    """Load a generator from an official ``.pkl``, a rosinality ``.pt`` or a netblend file.

    The format is recognised by content, not by extension. Nothing in the file is executed, and
    nothing is built before the file's kwargs and tensors are checked (types, ranges, sizes, finite
    weights: see ``engine.models.checks``). With ``cache=True`` non-native files are converted once to
    the netblend format under ``cache_dir()`` and later loads read that copy (a corrupt copy is
    ignored and rewritten). Every failure is a one-line ``ModelLoadError`` naming the file.
    """
    path = check_model_file(path)
    kind = detect_format(path)
    cached = _cache_path_or_none(path) if cache and kind != "native" else None
    if cached is not None and cached.exists():
        try:
            model = native.read_native(cached)      # written by netblend from a file that passed every check
            return build_from_weights(model.init_kwargs, model.state_dict, device, model.family,
                                      check_values=False)
        except (NetblendError, MemoryError, OUT_OF_MEMORY[-1]) as e:
            log.warning("ignoring the cached copy %s of %s (%s); converting again", cached, path,
                        e or type(e).__name__)
    kwargs, state_dict, family = read_model(path)
    try:
        G: Any = build_from_weights(kwargs, state_dict, device, family)
    except ModelLoadError as e:
        raise ModelLoadError(f"{path}: {e}") from e
    except OUT_OF_MEMORY as e:
        raise ModelLoadError(f"{path}: ran out of memory while building the generator (the model needs "
                             f"more memory than is free on {device})") from e
    if kind == "torch" and not bool(G.mapping.w_avg.any()):
        estimate_w_avg(G)
    if cached is not None:
        _write_cache(G, cached)
    return G


_FACTORIES = (torch.randn, torch.rand, torch.zeros, torch.ones, torch.empty)
_SCALAR_OPS = (torch.Tensor.mul, torch.Tensor.div, torch.Tensor.__mul__, torch.Tensor.__truediv__,
               torch.Tensor.__rmul__)


class _MetaConstruction(TorchFunctionMode):
    """Inside ``torch.device("meta")``: explicit device moves stay on meta, so nothing is allocated."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _FACTORIES:                                       # shortcut: no values to compute
            size = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
            return torch.empty(tuple(size), dtype=kwargs.get("dtype"), device="meta")
        if func in _SCALAR_OPS and len(args) == 2 and isinstance(args[1], (int, float)) \
                and isinstance(args[0], torch.Tensor) and args[0].is_meta and args[0].is_floating_point():
            return torch.empty_like(args[0])
        if func in (torch.as_tensor, torch.tensor):                  # small constants (filter taps): real
            kwargs["device"] = "cpu"
            return func(*args, **kwargs)
        if func in (torch.Tensor.cpu, torch.Tensor.cuda) and args and args[0].is_meta:
            return args[0]
        if func is torch.Tensor.to:                                  # keep dtype changes, drop device moves
            args = tuple("meta" if _names_a_device(a) else a for a in args)
        if "device" in kwargs:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def _names_a_device(value: object) -> bool:
    return isinstance(value, torch.device) or (
        isinstance(value, str) and value.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta"))


def build_from_weights(init_kwargs: dict, state_dict: dict[str, torch.Tensor], device: str | torch.device,
                       family: str | None, check_values: bool = True) -> torch.nn.Module:
    """``build_generator`` for tensors the loader owns: check everything, skip the random init, adopt.

    Before any module exists the kwargs are checked (types, ranges, a size bound, the sizes that decide
    how many modules get built against the tensors present) and so are the tensors (dense layout, no
    NaN or inf). The generator is then constructed on the meta device (no memory, no random numbers),
    its keys and shapes compared with the file's, and the loaded tensors assigned instead of copied.
    Where that does not give a complete generator (a model keeps a tensor outside its state dict), the
    ordinary ``build_generator`` path runs with the same, already verified, weights.
    ``check_values=False`` skips the one pass over every weight value (NaN/inf), for netblend's own cache
    copies of files that passed it. ModelLoadErrors here do not name the file (the caller adds it).
    """
    from engine.models import build

    family = family or build.detect_family(init_kwargs, state_dict)
    cls = build._generator_class(family)
    flat = build.flatten_kwargs(plain_kwargs(init_kwargs))
    build._check_kwargs(cls, flat, family)
    check_kwargs(family, flat)
    check_parameter_bound(family, flat)
    check_tensor_layout(state_dict)
    check_kwargs_fit_weights(family, flat, state_dict)
    try:
        with torch.device("meta"), _MetaConstruction():
            G = cls(**flat)
    except (NetblendError, ValueError, TypeError, ArithmeticError, LookupError, RuntimeError) as e:
        raise ModelLoadError(f"the constructor kwargs do not make a {family} generator "
                             f"({type(e).__name__}: {str(e)[:200]})") from e
    expected = G.state_dict()
    if sorted(expected) != sorted(state_dict) or any(
            expected[k].shape != state_dict[k].shape for k in expected):
        build.load_state_dict_strict(G, state_dict)      # raises, naming the missing and misshaped keys
        raise ModelLoadError("the weights do not fit the constructor kwargs")
    if check_values:
        check_finite(state_dict)
    G.load_state_dict({k: state_dict[k].to(expected[k].dtype) for k in expected}, strict=True, assign=True)
    if _has_meta_tensors(G):
        return build.build_generator(flat, state_dict, device=device, family=family)
    return build.ready_for(G, device)


def _has_meta_tensors(G: torch.nn.Module) -> bool:
    """Whether any parameter, buffer or tensor attribute (or one in a list/tuple/dict) is still meta."""
    for module in G.modules():
        values = [*module._parameters.values(), *module._buffers.values(), *vars(module).values()]
        for value in values:
            items = value.values() if isinstance(value, dict) else value
            items = items if isinstance(items, (list, tuple, type({}.values()))) else [items]
            if any(isinstance(v, torch.Tensor) and v.is_meta for v in items):
                return True
    return False


def estimate_w_avg(G: Any, samples: int = W_AVG_SAMPLES, seed: int = 0) -> None:
    """Set ``mapping.w_avg`` to the mean W of ``samples`` seeded z (for checkpoints that lack it)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, G.z_dim, generator=generator)                  # [S, z_dim]
    c = torch.zeros(samples, G.c_dim)                                       # [S, c_dim]
    device = G.mapping.w_avg.device
    with torch.no_grad():
        ws = G.mapping(z.to(device), c.to(device), truncation_psi=1.0)       # [S, num_ws, w_dim]
        G.mapping.w_avg.copy_(ws[:, 0].mean(dim=0))                          # [w_dim]


def cache_path(path: str | os.PathLike) -> Path:
    """The cache file for ``path``: named by its absolute path, size and modification time."""
    source = Path(path).resolve()
    stat = source.stat()
    digest = hashlib.sha256(f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    return cache_dir() / f"{source.stem}-{digest}{native.SUFFIX}"


def _cache_path_or_none(path: Path) -> Path | None:
    try:
        return cache_path(path)
    except OSError as e:
        log.warning("not caching %s (%s)", path, e)
        return None


def save_generator(G: Any, out: str | os.PathLike) -> Path:
    """Write ``G`` (its flat kwargs, family and state dict) in the netblend format, atomically."""
    return native.save_native(out, G.state_dict(), G.init_kwargs, G.family)


def _write_cache(G: torch.nn.Module, cached: Path) -> None:
    try:
        save_generator(G, cached)
    except OSError as e:
        log.warning("could not cache %s (%s); the model still loads, only slower next time", cached, e)


__all__ = ["build_from_weights", "cache_dir", "cache_path", "detect_format", "estimate_w_avg", "load_generator",
           "read_model", "save_generator"]
