"""Official StyleGAN training pickles (``.pkl``), read without running any code from the file.

The official code stores every network as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``
with ``meta = {type, version, module_src, class_name, state}`` and *executes* ``module_src`` on load.
Here a whitelisting unpickler resolves exactly the globals such a pickle needs to safe stand-ins:
persistent objects become inert ``PersistentObject`` records (``module_src`` is dropped unread), tensors
are rebuilt from their bytes with ``torch.load(weights_only=True)``, numpy values go through checked
wrappers, and every other global is refused with a message naming it. The generator's weights are then
collected by walking the records' module state (``_parameters``, persistent ``_buffers``, ``_modules``).
"""

from __future__ import annotations

import _codecs
import collections
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from engine.errors import ModelLoadError
from engine.models.checks import plain_kwargs

from .model_file import ZipBombError, check_zip_sizes, open_model_file

# Exceptions an unpickler raises on a corrupt or hostile stream (never a bare except). RecursionError
# is a RuntimeError, OverflowError and ZeroDivisionError are ArithmeticErrors.
PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, LookupError, AttributeError,
                 RuntimeError, ArithmeticError, UnicodeDecodeError, ImportError, BufferError)
MAX_MODULES = 20_000      # networks in one generator (an official 1024 px StyleGAN2 has ~110)
MAX_MODULE_DEPTH = 64     # nesting of sub-networks (official: 5)


class UnsafePickleError(ModelLoadError):
    """A pickle that asks for a global the safe unpickler does not know (possibly malicious)."""


class _UnsafeTensorBytes(pickle.UnpicklingError):
    """A nested tensor stream that the weights-only loader refused."""


@dataclass
class PersistentObject:
    """Inert record of one ``torch_utils.persistence`` network: its class name and its state dict."""

    class_name: str
    state: dict

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError("the pickle rewrites a network record after building it (BUILD)")


class EasyDictStandIn(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (attribute access is never needed)."""

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError("the pickle sets attributes on a dict (BUILD)")


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    """Record a persistent network; its ``module_src`` is deliberately never read or executed."""
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("persistent object without a state dict")
    return PersistentObject(class_name=str(meta.get("class_name", "")), state=meta["state"])


def _load_storage_from_bytes(data: Any) -> Any:
    """Replacement for ``torch.storage._load_from_bytes``: the nested stream is loaded weights-only."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("tensor storage is not bytes")
    stream = io.BytesIO(data)
    check_zip_sizes(stream, len(data))
    try:
        storage = torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise _UnsafeTensorBytes(str(e)) from e
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError(f"tensor storage decoded to {type(storage).__name__}")
    return storage


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                    backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """Checked ``torch._utils._rebuild_tensor_v2``: a plain tensor viewing a storage we decoded."""
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError("tensor without a decoded storage")
    if not (isinstance(storage_offset, int) and _int_tuple(size) and _int_tuple(stride)):
        raise pickle.UnpicklingError("tensor with a malformed size or stride")
    if len(size) != len(stride) or len(size) > 8 or min((*size, *stride, storage_offset), default=0) < 0:
        raise pickle.UnpicklingError("tensor with a malformed size or stride")
    return torch._utils._rebuild_tensor(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    """Checked ``torch._utils._rebuild_parameter``: the data tensor itself (no autograd state)."""
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter without tensor data")
    return data


def _int_tuple(value: Any) -> bool:
    return isinstance(value, (tuple, list, torch.Size)) and len(value) <= 32 and all(
        isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2 ** 62 for v in value)


class _NdarrayClass:
    """Token for ``numpy.ndarray``: only ``_reconstruct`` accepts it, calling it does nothing useful."""


def _np_reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    """Checked ``numpy.core.multiarray._reconstruct``: an empty ndarray that BUILD then fills."""
    if subtype is not _NdarrayClass or not _int_tuple(shape) or len(shape) > 1 or sum(shape) > 1:
        raise pickle.UnpicklingError("numpy array of an unknown subtype or an unexpected initial shape")
    return np.ndarray(tuple(shape), dtype=np.uint8)


def _np_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """Checked ``numpy.dtype``: built from a type string only."""
    if not isinstance(spec, str) or len(spec) > 64:
        raise pickle.UnpicklingError("numpy dtype from a non-string spec")
    return np.dtype(spec, bool(align), True)       # always a copy: BUILD may then change its state


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    """Checked ``numpy.core.multiarray.scalar``: a numeric scalar decoded from its raw bytes."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError("numpy scalar that is not plain numeric data")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """Checked ``_codecs.encode`` (how protocol 2 pickles store bytes): latin-1 text to bytes only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("bytes encoded in an unexpected way")
    return _codecs.encode(text, "latin1")


def _numpy_globals(module: str) -> dict[tuple[str, str], Any]:
    return {(module, "_reconstruct"): _np_reconstruct, (module, "scalar"): _np_scalar}


SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("dnnlib.util", "EasyDict"): EasyDictStandIn,
    ("numpy", "dtype"): _np_dtype,
    ("numpy", "ndarray"): _NdarrayClass,
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "frozenset"): frozenset,
    **_numpy_globals("numpy.core.multiarray"),   # pickles written with numpy 1.x
    **_numpy_globals("numpy._core.multiarray"),  # numpy 2.x
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``SAFE_GLOBALS`` and refuses every other global."""

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Callable[..., Any]:
        found = SAFE_GLOBALS.get((module, name))
        if found is None:
            raise UnsafePickleError(
                f"{self.source}: refused to load: the pickle asks for the global {module}.{name}, which a "
                f"StyleGAN checkpoint never needs (the file may be malicious); use a checkpoint from a "
                f"source you trust")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not used by training pickles")


def safe_unpickle(path: Path) -> Any:
    """Unpickle ``path`` with ``SafeUnpickler``; every failure is a one-line ``ModelLoadError``."""
    try:
        with open_model_file(path) as f:
            return SafeUnpickler(f, str(path)).load()
    except UnsafePickleError:
        raise
    except ZipBombError as e:
        raise ModelLoadError(f"{path}: refused to load: {e}; the file is corrupt or crafted") from e
    except _UnsafeTensorBytes as e:
        raise UnsafePickleError(
            f"{path}: refused to load: a tensor inside the pickle carries code instead of plain data (the "
            f"file may be malicious); use a checkpoint from a source you trust") from e
    except MemoryError as e:
        raise ModelLoadError(f"{path}: ran out of memory while unpickling (the file declares more data than "
                             f"fits in memory: corrupt, crafted, or too large for this machine)") from e
    except PICKLE_ERRORS as e:
        raise ModelLoadError(
            f"{path}: not a readable training pickle (truncated or corrupt: {_one_line(e)}); "
            f"download or copy the file again") from e


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def select_generator(obj: Any, path: Path) -> PersistentObject:
    """The generator inside an unpickled training pickle: ``G_ema`` (preferred), ``G``, or the object."""
    if isinstance(obj, dict):
        for key in ("G_ema", "G"):
            if isinstance(obj.get(key), PersistentObject):
                return obj[key]
        raise ModelLoadError(f"{path}: the pickle holds no generator (no 'G_ema' or 'G' network); "
                             f"pass a StyleGAN training snapshot (network-snapshot-*.pkl)")
    if isinstance(obj, PersistentObject):
        return obj
    raise ModelLoadError(f"{path}: the pickle holds a {type(obj).__name__}, not a StyleGAN network; "
                         f"pass a StyleGAN training snapshot (network-snapshot-*.pkl)")


def collect_state_dict(network: PersistentObject, path: Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a persistent network: parameters, persistent buffers, then sub-modules.

    Walks the sub-networks without recursion, each at most once (a network reached twice is a shared
    reference, as in a crafted file whose modules form a DAG of 2**n paths), at most
    ``MAX_MODULES`` networks and ``MAX_MODULE_DEPTH`` levels deep.
    """
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    pending: list[tuple[PersistentObject, str, int]] = [(network, "", 0)]
    while pending:
        node, prefix, depth = pending.pop()
        if id(node) in seen:
            raise _corrupt(path, f"sub-network {prefix.rstrip('.')[:80]} appears twice (a shared reference)")
        seen.add(id(node))
        if len(seen) > MAX_MODULES or depth > MAX_MODULE_DEPTH:
            raise _corrupt(path, f"more than {MAX_MODULES:,} sub-networks or more than {MAX_MODULE_DEPTH} "
                                 f"levels of them")
        state = node.state
        non_persistent = state.get("_non_persistent_buffers_set") or set()
        if not isinstance(non_persistent, (set, frozenset)):
            raise _corrupt(path, f"{prefix}_non_persistent_buffers_set is a {type(non_persistent).__name__}")
        tensors = list(_named(state, "_parameters", prefix, path))
        tensors += [(k, v) for k, v in _named(state, "_buffers", prefix, path) if k not in non_persistent]
        for name, tensor in tensors:
            if tensor is None:
                continue
            if not isinstance(tensor, torch.Tensor):
                raise ModelLoadError(f"{path}: {prefix}{name} is a {type(tensor).__name__}, not a tensor; "
                                     f"the pickle is corrupt or not a StyleGAN network")
            out[prefix + name] = tensor
        children = [(k, v) for k, v in _named(state, "_modules", prefix, path) if v is not None]
        for name, child in reversed(children):                       # popped in the original order
            if not isinstance(child, PersistentObject):
                raise ModelLoadError(f"{path}: sub-network {prefix}{name} is a {type(child).__name__}; "
                                     f"only StyleGAN's own persistent networks are supported")
            pending.append((child, f"{prefix}{name}.", depth + 1))
    return out


def _named(state: dict, field: str, prefix: str, path: Path) -> list[tuple[str, Any]]:
    """The ``(name, value)`` items of a module's ``_parameters``/``_buffers``/``_modules`` dict."""
    items = state.get(field)
    if items is None:
        return []
    if not isinstance(items, dict):
        raise _corrupt(path, f"{prefix}{field} is a {type(items).__name__}, not a dict")
    for name in items:
        if not isinstance(name, str) or not name or "." in name or len(name) > 200:
            raise _corrupt(path, f"{prefix}{field} has the entry {str(name)[:40]!r}, not a valid name")
    return list(items.items())


def _corrupt(path: Path, problem: str) -> ModelLoadError:
    return ModelLoadError(f"{path}: not a StyleGAN network ({problem}); the pickle is corrupt or crafted")


def read_training_pickle(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(init_kwargs, state_dict)`` of the generator in an official training pickle, run-nothing safe."""
    network = select_generator(safe_unpickle(path), path)
    kwargs = network.state.get("_init_kwargs")
    if not isinstance(kwargs, dict):
        raise ModelLoadError(f"{path}: the generator records no constructor kwargs ('_init_kwargs'); "
                             f"pass a pickle written by the official StyleGAN2-ADA/StyleGAN3 training code")
    args = network.state.get("_init_args")
    if not isinstance(args, (tuple, list, type(None))):
        raise _corrupt(path, f"_init_args is a {type(args).__name__}")
    if args:
        raise ModelLoadError(f"{path}: the generator was built with positional arguments, which netblend "
                             f"cannot map; re-save it with keyword arguments")
    try:
        plain = plain_kwargs(kwargs)
    except ModelLoadError as e:
        raise ModelLoadError(f"{path}: {e}") from e
    return plain, collect_state_dict(network, path)
