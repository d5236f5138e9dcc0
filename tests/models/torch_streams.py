"""Test helper: ``torch.save``-format streams written by hand, so a test can make ones torch never would.

``storage_stream(nbytes)`` is what ``torch.save(storage)`` writes (the bytes a training pickle nests in
``torch.storage._load_from_bytes``); ``checkpoint_stream(obj)`` is a ``torch.save`` zip of a dict whose
``TensorSpec`` values become tensors. Storages hold zeros; with ``deflate=True`` their member is
compressed, so a few KB of file inflate to ``nbytes`` (a decompression bomb) when torch reads it.
The deflate stream repeats one independently compressed 1 MiB block (a full flush resets the window),
so a gigabyte of zeros costs milliseconds to write, plus one CRC pass.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import torch

CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)


@dataclass(frozen=True)
class TensorSpec:
    """A float32 tensor of ``shape`` over its own zero-filled storage of ``nbytes`` bytes."""

    shape: tuple[int, ...]
    nbytes: int


class _Storage:
    def __init__(self, key: str, nbytes: int) -> None:
        self.key, self.nbytes = key, nbytes


class _Tensor:
    def __init__(self, storage: _Storage, shape: tuple[int, ...]) -> None:
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride = tuple(int(torch.tensor(self.shape[i + 1:]).prod()) for i in range(len(self.shape)))
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, 0, self.shape, stride, False, collections.OrderedDict()))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.nbytes // 4)
        return None


def _data_pkl(obj: Any) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def _zero_member(nbytes: int, deflate: bool) -> tuple[bytes, int, int]:
    """(member data, CRC-32, compression method) of ``nbytes`` zeros."""
    crc = 0
    for start in range(0, nbytes, CHUNK):
        crc = zlib.crc32(_ZEROS[: min(CHUNK, nbytes - start)], crc)
    if not deflate:
        return bytes(nbytes), crc, 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(nbytes, CHUNK)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(_ZEROS[:rest]) + tail.flush(zlib.Z_FINISH)
    return block * whole + last, crc, 8


def _zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive of ``(name, data, crc, method, uncompressed size)`` members (no zip64: < 4 GiB)."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, crc, method, size in members:
        offset = out.tell()
        raw = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size,
                              len(raw), 0) + raw + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data),
                                  size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start, directory = out.tell(), central.getvalue()
    out.write(directory)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), start, 0))
    return out.getvalue()


def _archive(top: Any, storages: list[_Storage], deflate: bool) -> bytes:
    members = []
    for name, data in (("archive/data.pkl", _data_pkl(top)), ("archive/byteorder", b"little")):
        members.append((name, data, zlib.crc32(data), 0, len(data)))
    for storage in storages:
        data, crc, method = _zero_member(storage.nbytes, deflate)
        members.append((f"archive/data/{storage.key}", data, crc, method, storage.nbytes))
    members.append(("archive/version", b"3\n", zlib.crc32(b"3\n"), 0, 2))
    return _zip(members)


def storage_stream(nbytes: int, deflate: bool = False) -> bytes:
    """What ``torch.save`` writes for one float32 storage of ``nbytes`` zero bytes."""
    storage = _Storage("0", nbytes)
    return _archive(storage, [storage], deflate)


def checkpoint_stream(obj: dict, deflate: bool = False) -> bytes:
    """A ``torch.save`` zip of ``obj`` (nested dicts) whose ``TensorSpec`` values become tensors."""
    storages: list[_Storage] = []

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, TensorSpec):
            storages.append(_Storage(str(len(storages)), value.nbytes))
            return _Tensor(storages[-1], value.shape)
        return value

    return _archive(convert(obj), storages, deflate)
