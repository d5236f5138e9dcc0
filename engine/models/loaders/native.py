"""netblend's own model format: one safetensors-compatible file, written and read by this module.

Layout (the safetensors layout, so other tools can read the weights too)::

    8 bytes   little-endian u64 N = header length
    N bytes   JSON: {"__metadata__": {"format": "netblend", "version": "1", "family": ...,
                                      "init_kwargs": "<JSON string>"},
                     "<key>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
              (padded with spaces so the tensor data starts 8-byte aligned)
    data      the raw little-endian tensor bytes, offsets relative to the end of the header

Reading maps the file (copy-on-write) and views each tensor in place, so loading costs one pass over
the bytes. Writing goes to a temporary file in the same folder, then ``os.replace``: a reader never sees
a half-written model.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import ModelLoadError
from engine.models.checks import plain_kwargs

from .model_file import open_model_file

FORMAT_NAME = "netblend"
FORMAT_VERSION = "1"
SUFFIX = ".netblend.safetensors"
MAX_HEADER_BYTES = 64 * 1024 * 1024       # what content sniffing takes for a safetensors header
MAX_NETBLEND_HEADER = 8 * 1024 * 1024     # what a netblend header may be (an official 1024 px model: ~40 KB)
MAX_TENSORS = 20_000
MAX_RANK = 8
MAX_DIM = 2 ** 31 - 1

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


@dataclass
class NativeModel:
    """What a netblend file holds: the generator family, its flat kwargs and its tensors."""

    family: str                          # "stylegan2" | "stylegan3"
    init_kwargs: dict                    # normalised flat constructor kwargs
    state_dict: dict[str, torch.Tensor]  # CPU tensors viewing the mapped file


def looks_native(head: bytes) -> bool:
    """Whether the first bytes of a file look like a safetensors header (cheap content sniffing)."""
    if len(head) < 10:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= MAX_HEADER_BYTES and head[8:9] == b"{"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_native(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], init_kwargs: dict,
                family: str) -> Path:
    """Write a netblend file atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    tensors = {k: t.detach().to("cpu").contiguous() for k, t in state_dict.items()}
    # Widest element first keeps every tensor aligned to its own element size.
    order = sorted(tensors, key=lambda k: -tensors[k].element_size())
    header: dict[str, Any] = {"__metadata__": {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "family": family,
        "init_kwargs": json.dumps(_jsonable(init_kwargs), sort_keys=True),
    }}
    offset = 0
    for key in order:
        t = tensors[key]
        if t.dtype not in DTYPE_NAMES:
            raise ModelLoadError(f"{key} has dtype {t.dtype}, which the netblend format cannot store; "
                                 f"convert the model to float32 first")
        size = t.numel() * t.element_size()
        header[key] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                       "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-(8 + len(header_bytes)) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(header_bytes)))
            f.write(header_bytes)
            for key in order:
                t = tensors[key]
                if t.numel():
                    f.write(_little_endian_bytes(t))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)                                   # mkstemp makes it owner-only
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _little_endian_bytes(t: torch.Tensor) -> memoryview:
    raw = t.reshape(-1).view(torch.uint8)                             # [numel * element_size]
    if sys.byteorder == "big" and t.element_size() > 1:
        raw = raw.view(-1, t.element_size()).flip(1).reshape(-1)
    return memoryview(raw.numpy().data)


def read_native(path: str | os.PathLike) -> NativeModel:
    """Read a netblend file; a corrupt or foreign file raises a one-line ``ModelLoadError``."""
    path = Path(path)
    with open_model_file(path) as f:
        file_size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        if len(prefix) < 8:
            raise _corrupt(path, "shorter than its 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if not 2 <= length <= min(MAX_HEADER_BYTES, file_size - 8):
            raise _corrupt(path, f"header length {length} does not fit a {file_size}-byte file")
        if length > MAX_NETBLEND_HEADER:
            raise _corrupt(path, f"header length {length:,} is far more than a model needs")
        if (8 + length) % 8:
            raise _corrupt(path, f"header length {length} leaves the tensor data unaligned; netblend pads "
                                 f"its header to 8 bytes")
        header = _parse_json(path, f.read(length), "its JSON header")
        meta = header.pop("__metadata__", None) if isinstance(header, dict) else None
        family, init_kwargs = _check_metadata(path, meta)
        data_start = 8 + length
        specs = _check_specs(path, header, file_size - data_start)
        buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) if file_size > data_start else None
    state_dict = {}
    for key, (dtype, shape, begin, numel) in specs.items():
        if numel == 0 or buffer is None:
            state_dict[key] = torch.empty(shape, dtype=dtype)
            continue
        flat = torch.frombuffer(buffer, dtype=dtype, count=numel, offset=data_start + begin)  # [numel]
        if sys.byteorder == "big" and flat.element_size() > 1:
            flat = flat.view(torch.uint8).view(-1, flat.element_size()).flip(1).reshape(-1).view(dtype)
        state_dict[key] = flat.view(shape)
    return NativeModel(family=family, init_kwargs=init_kwargs, state_dict=state_dict)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the number {name} is not allowed")


def _parse_json(path: Path, raw: bytes | str, what: str) -> Any:
    """Strict JSON (no NaN/Infinity); deep nesting and bad bytes are a one-line corrupt-file error."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as e:
        raise _corrupt(path, f"{what} is nested too deeply") from e
    except MemoryError as e:
        raise _corrupt(path, f"{what} does not fit in memory") from e
    except (UnicodeDecodeError, ValueError, TypeError) as e:
        raise _corrupt(path, f"{what} does not parse ({str(e)[:80]})") from e


def _corrupt(path: Path, problem: str) -> ModelLoadError:
    return ModelLoadError(f"{path}: corrupt netblend file ({problem}); "
                          f"write it again with `netblend convert SOURCE -o {path.name}`")


def _check_metadata(path: Path, meta: Any) -> tuple[str, dict]:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelLoadError(f"{path}: a safetensors file without netblend metadata (no format "
                             f"'netblend'); convert the original model with `netblend convert MODEL`")
    if meta.get("version") != FORMAT_VERSION:
        raise ModelLoadError(f"{path}: netblend format version {str(meta.get('version'))[:20]!r} is not "
                             f"supported (this netblend reads version {FORMAT_VERSION}); update netblend or "
                             f"convert the original model again")
    family = meta.get("family")
    if family not in ("stylegan2", "stylegan3") or not isinstance(meta.get("init_kwargs"), str):
        raise _corrupt(path, f"unknown family {str(family)[:20]!r} or malformed init_kwargs")
    init_kwargs = _parse_json(path, meta["init_kwargs"], "its init_kwargs metadata")
    try:
        return family, plain_kwargs(init_kwargs)
    except ModelLoadError as e:
        raise _corrupt(path, f"malformed init_kwargs: {e}") from e


def _check_specs(path: Path, header: dict, data_size: int) -> dict[str, tuple[torch.dtype, list, int, int]]:
    """Each tensor entry checked: known dtype, integer shape, in-file aligned range, no overlaps."""
    if len(header) > MAX_TENSORS:
        raise _corrupt(path, f"{len(header):,} tensors is far more than a model holds")
    specs = {}
    for key, spec in header.items():
        if not isinstance(spec, dict) or sorted(spec) != ["data_offsets", "dtype", "shape"]:
            raise _corrupt(path, f"malformed entry for {key[:80]!r}")
        dtype = DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
        shape, offsets = spec["shape"], spec["data_offsets"]
        if dtype is None or not _int_list(shape, MAX_RANK, MAX_DIM) or not _int_list(offsets, 2, 2 ** 63) \
                or len(offsets) != 2:
            raise _corrupt(path, f"malformed entry for {key[:80]!r} (dtype, integer shape and two integer "
                                 f"offsets inside the file)")
        begin, end = offsets
        numel = math.prod(shape)
        item = dtype.itemsize
        if end - begin != numel * item or begin > end or end > data_size \
                or math.prod(d for d in shape if d) * item >= 2 ** 62:
            raise _corrupt(path, f"tensor {key[:80]!r} does not fit the file (truncated?)")
        if begin % item:
            raise _corrupt(path, f"tensor {key[:80]!r} is misaligned")
        specs[key] = (dtype, shape, begin, numel)
    spans = sorted((begin, begin + numel * dtype.itemsize, key)
                   for key, (dtype, _, begin, numel) in specs.items() if numel)
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:]):
        if begin < end:
            raise _corrupt(path, f"tensors {first[:80]!r} and {second[:80]!r} overlap in the file")
    return specs


def _int_list(value: Any, max_len: int, max_value: int) -> bool:
    return isinstance(value, list) and len(value) <= max_len and all(
        type(v) is int and 0 <= v <= max_value for v in value)
