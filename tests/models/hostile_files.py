"""Test helper: the bad and hostile model files of issue 12, each written on demand into a folder.

``CASES`` maps a name to ``(writer, words)``: ``writer(folder, base)`` writes the file and returns its
path; ``words`` are what the one-line ``ModelLoadError`` must say (besides the path). Every kind ended
in a raw exception, a hang, a memory blow-up or a model that cannot render before netblend checked it.
``base`` holds a tiny StyleGAN2 and StyleGAN3 (kwargs and state dicts) the files are made from.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.models.build import build_generator
from engine.models.loaders.native import save_native
from engine.models.stylegan3 import stylegan3_kwargs
from tests.models import official_pickle
from tests.models.rosinality_checkpoint import to_rosinality
from tests.models.sg2_helpers import tiny_generator, tiny_kwargs
from tests.models.torch_streams import TensorSpec, checkpoint_stream, storage_stream

SENTINEL = "NETBLEND_SENTINEL"
DEEP = 100_000


@dataclass
class Base:
    """A tiny StyleGAN2 (nested kwargs, 16 px) and StyleGAN3 (flat kwargs, 16 px) to corrupt."""

    sg2_kwargs: dict
    sg2: dict[str, torch.Tensor]
    sg3_kwargs: dict
    sg3: dict[str, torch.Tensor]
    rosinality: dict[str, torch.Tensor]     # a StyleGAN2 with z_dim = w_dim, as rosinality's are


def make_base() -> Base:
    sg2 = {k: v.clone() for k, v in tiny_generator(seed=3).state_dict().items()}
    torch.manual_seed(4)
    sg3_kwargs = stylegan3_kwargs("T", 16, z_dim=8, w_dim=16, channel_base=256, channel_max=16)
    sg3 = {k: v.clone() for k, v in build_generator(sg3_kwargs).state_dict().items()}
    rosinality = build_generator(dict(tiny_kwargs(), z_dim=16)).state_dict()
    return Base(tiny_kwargs(), sg2, sg3_kwargs, sg3, to_rosinality(rosinality, 16))


# ---- pickles ---------------------------------------------------------------------------------------

def _dump(path: Path, data: Any, protocol: int = 4) -> Path:
    with official_pickle._official_names():
        path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path


def pickle_with(path: Path, kwargs: dict, state_dict: dict, edit: Callable[[dict], None] | None = None,
                protocol: int = 4) -> Path:
    """A training pickle of ``kwargs``/``state_dict``; ``edit(root_state)`` may change the root network."""
    root = official_pickle.network(kwargs, state_dict)
    if edit is not None:
        edit(root.meta["state"])
    return _dump(path, {"G_ema": root, "augment_pipe": None}, protocol)


def child(state: dict, dotted: str) -> dict:
    """The state of the sub-network at ``dotted`` (e.g. ``mapping.fc0``) below a root state."""
    for name in dotted.split("."):
        state = state["_modules"][name].meta["state"]
    return state


def _kwargs_case(change: Callable[[dict], None], family: str = "stylegan2") -> Callable[[Path, Base], Path]:
    def write(folder: Path, base: Base) -> Path:
        kwargs = json.loads(json.dumps(base.sg2_kwargs if family == "stylegan2" else base.sg3_kwargs))
        change(kwargs)
        return pickle_with(folder / "model.pkl", kwargs, base.sg2 if family == "stylegan2" else base.sg3)
    return write


def _synthesis(name: str, value: Any) -> Callable[[dict], None]:
    return lambda kwargs: kwargs["synthesis_kwargs"].__setitem__(name, value)


def _top(name: str, value: Any) -> Callable[[dict], None]:
    return lambda kwargs: kwargs.__setitem__(name, value)


def _spliced(folder: Path, base: Base, opcodes: bytes) -> Path:
    """A protocol-2 pickle whose kwargs value ``SENTINEL`` is replaced by raw pickle ``opcodes``."""
    kwargs = dict(base.sg2_kwargs, extra=SENTINEL)
    path = pickle_with(folder / "model.pkl", kwargs, base.sg2, protocol=2)
    raw = path.read_bytes()
    token = b"X" + struct.pack("<I", len(SENTINEL)) + SENTINEL.encode()
    assert raw.count(token) == 1
    path.write_bytes(raw.replace(token, opcodes))
    return path


def deep_list_opcodes(depth: int) -> bytes:
    """Pickle opcodes that build a list nested ``depth`` deep (no recursion needed to unpickle)."""
    return b"]" * depth + b"a" * (depth - 1)


def deep_modules(folder: Path, base: Base, depth: int = 3000) -> Path:
    """A generator whose sub-networks nest ``depth`` deep (raw opcodes: no pickler recursion)."""
    get_fn = b"h\x00"                                                   # BINGET 0: the reconstruct function
    text = lambda s: b"X" + struct.pack("<I", len(s)) + s.encode()      # noqa: E731
    level = get_fn + b"}" + text("state") + b"}" + text("_modules") + b"}" + text("m")
    close = b"s" + b"s" + b"s" + b"\x85" + b"R"                          # SETITEM x3, TUPLE1, REDUCE
    leaf = get_fn + b"}" + text("state") + b"}" + b"s" + b"\x85" + b"R"
    root = (get_fn + b"}" + text("state") + b"}" + text("_init_kwargs") + b"}" + b"s"
            + text("_modules") + b"}" + text("m"))
    body = (b"\x80\x02" + b"ctorch_utils.persistence\n_reconstruct_persistent_obj\nq\x00" + b"}" + text("G_ema")
            + root + level * depth + leaf + close * depth + close + b"s" + b".")
    path = folder / "deep_modules.pkl"
    path.write_bytes(body)
    return path


def module_dag(folder: Path, base: Base, levels: int = 60) -> Path:
    """Sub-networks that share their children: 2**levels paths through ``levels`` objects."""
    node = official_pickle._Persistent({"type": "class", "state": {"_modules": {}}})
    for _ in range(levels):
        node = official_pickle._Persistent({"type": "class", "state": {"_modules": {"a": node, "b": node}}})
    root = official_pickle.network(base.sg2_kwargs, base.sg2)
    root.meta["state"]["_modules"]["bomb"] = node
    return _dump(folder / "module_dag.pkl", {"G_ema": root})


def list_dag(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value, value]
    return value


class _BuildAfter(official_pickle._Persistent):
    """A network record the pickle rewrites after it was built (the BUILD opcode)."""

    def __reduce__(self):
        return (official_pickle._reconstruct_persistent_obj, (self.meta,), {"state": ["replaced"]})


def build_replaces_state(folder: Path, base: Base) -> Path:
    root = official_pickle.network(base.sg2_kwargs, base.sg2)
    return _dump(folder / "build.pkl", {"G_ema": _BuildAfter(root.meta)})


class _TensorBuild:
    """A tensor the pickle re-points after building it: ``Tensor.__setstate__`` with zero strides."""

    def __init__(self, tensor: torch.Tensor, size: tuple[int, ...]) -> None:
        self.tensor, self.size = tensor, size

    def __reduce__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)                # TypedStorage is deprecated
            storage, own = torch.zeros(1).storage(), self.tensor.storage()
        return (torch._utils._rebuild_tensor_v2,
                (own, 0, tuple(self.tensor.shape), self.tensor.stride(), False, collections.OrderedDict()),
                (storage, 0, self.size, tuple(0 for _ in self.size)))


def _edit_tensor(dotted: str, name: str, value: Any) -> Callable[[dict], None]:
    return lambda state: child(state, dotted)["_parameters"].__setitem__(name, value)


def _with_tensor(change: Callable[[dict], None]) -> Callable[[Path, Base], Path]:
    def write(folder: Path, base: Base) -> Path:
        sd = {k: v.clone() for k, v in base.sg2.items()}
        change(sd)
        return pickle_with(folder / "model.pkl", base.sg2_kwargs, sd)
    return write


def _set(key: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[dict], None]:
    return lambda sd: sd.__setitem__(key, fn(sd[key]))


def nested_stream_bomb(folder: Path, base: Base, nbytes: int = 64 << 20) -> Path:
    """A pickle whose one tensor storage is a deflated ``torch.save`` stream inflating to ``nbytes``."""
    stream = storage_stream(nbytes, deflate=True)

    class Storage:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (stream,))

    class Tensor:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, (Storage(), 0, (nbytes // 4,), (1,), False,
                                                      collections.OrderedDict()))

    return pickle_with(folder / "bomb.pkl", base.sg2_kwargs, base.sg2,
                       _edit_tensor("mapping.fc0", "weight", Tensor()))


# ---- netblend files --------------------------------------------------------------------------------

def native_with(folder: Path, base: Base, edit: Callable[[dict], Any], pad: bool = True,
                state_dict: dict | None = None) -> Path:
    """A netblend file of the tiny StyleGAN2 whose header ``edit(header)`` changed (or replaced as text)."""
    path = save_native(folder / "model.netblend.safetensors", state_dict or base.sg2,
                       build_generator(base.sg2_kwargs).init_kwargs, "stylegan2")
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    changed = edit(header)
    text = (changed if isinstance(changed, str) else json.dumps(header)).encode()
    if pad:
        text += b" " * (-(8 + len(text)) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length:])
    return path


def _native_kwargs(change: Callable[[str], str]) -> Callable[[Path, Base], Path]:
    def edit(header: dict) -> None:
        header["__metadata__"]["init_kwargs"] = change(header["__metadata__"]["init_kwargs"])
    return lambda folder, base: native_with(folder, base, edit)


def _native_entry(key: str, field: str, value: Any) -> Callable[[Path, Base], Path]:
    return lambda folder, base: native_with(folder, base, lambda h: h[key].__setitem__(field, value))


def _overlap(header: dict) -> None:
    header["synthesis.b8.conv1.bias"]["data_offsets"] = header["synthesis.b8.conv0.bias"]["data_offsets"]


def _deep_header(header: dict) -> str:
    body = json.dumps(header)
    return body[:-1] + ', "deep": ' + "[" * DEEP + "]" * DEEP + "}"


# ---- rosinality checkpoints ------------------------------------------------------------------------

def rosinality_with(change: Callable[[dict], None]) -> Callable[[Path, Base], Path]:
    def write(folder: Path, base: Base) -> Path:
        g_ema = dict(base.rosinality)
        change(g_ema)
        path = folder / "g.pt"
        torch.save({"g_ema": g_ema, "latent_avg": torch.ones(16)}, path)
        return path
    return write


def _drop_prefix(prefix: str) -> Callable[[dict], None]:
    def change(g_ema: dict) -> None:
        for key in [k for k in g_ema if k.startswith(prefix)]:
            del g_ema[key]
    return change


def legacy_storage_size(folder: Path, base: Base, numel: int = 2 ** 30) -> Path:
    """A legacy (pre-zip) ``torch.save`` file whose one storage claims ``numel`` floats it does not hold."""
    buffer = io.BytesIO()
    torch.save({"g_ema": {"input.input": torch.zeros(12345)}}, buffer, _use_new_zipfile_serialization=False)
    token = b"M" + struct.pack("<H", 12345)                            # BININT2 12345: the storage size
    path = folder / "legacy.pt"
    path.write_bytes(buffer.getvalue().replace(token, b"\x8a\x05" + numel.to_bytes(5, "little"), 1))
    return path


def rosinality_zip_bomb(folder: Path, base: Base, nbytes: int = 64 << 20) -> Path:
    path = folder / "bomb.pt"
    path.write_bytes(checkpoint_stream({"g_ema": {"input.input": TensorSpec((1, nbytes // 64, 4, 4), nbytes),
                                                  "style.1.weight": TensorSpec((4, 4), 64)}}, deflate=True))
    return path


# ---- files that are not files -----------------------------------------------------------------------

def _write_bytes(name: str, data: bytes) -> Callable[[Path, Base], Path]:
    def write(folder: Path, base: Base) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return write


def fifo(folder: Path, base: Base) -> Path:
    path = folder / "pipe.pkl"
    os.mkfifo(path)
    return path


def _symlink(target: Path, link: Path) -> Path:
    link.symlink_to(target)
    return link


Writer = Callable[[Path, Base], Path]
CASES: dict[str, tuple[Writer, tuple[str, ...]]] = {
    # files that are not model files
    "one_byte_x80": (_write_bytes("x80.pkl", b"\x80"), ("too short",)),
    "long_path": (lambda folder, base: folder / ("m" * 5000 + ".pkl"), ("too long",)),
    "fifo": (fifo, ("FIFO",)),
    "symlink_to_fifo": (lambda folder, base: _symlink(fifo(folder, base), folder / "link.pkl"), ("FIFO",)),
    "dev_zero": (lambda folder, base: Path("/dev/zero"), ("character device",)),
    # pickles whose structure is hostile
    "build_replaces_state": (build_replaces_state, ("BUILD",)),
    "kwargs_cycle": (_kwargs_case(lambda k: k["mapping_kwargs"].__setitem__("loop", k)), ("refers back",)),
    "kwargs_deep_nesting": (lambda folder, base: _spliced(folder, base, deep_list_opcodes(DEEP)), ("nested",)),
    "kwargs_list_dag": (_kwargs_case(_top("extra", list_dag(12))), ("refers back",)),
    "kwargs_list_dag_deep": (_kwargs_case(_top("extra", list_dag(60))), ("nested",)),
    "kwargs_int_keys": (_kwargs_case(lambda k: k["mapping_kwargs"].__setitem__(1, 2)), ("key 1",)),
    "modules_deep_nesting": (deep_modules, ("levels",)),
    "modules_dag": (module_dag, ("shared reference",)),
    "param_int_keys": (lambda folder, base: pickle_with(
        folder / "model.pkl", base.sg2_kwargs, base.sg2,
        lambda s: child(s, "mapping.fc0")["_parameters"].__setitem__(1, torch.zeros(1))), ("not a valid name",)),
    "params_as_list": (lambda folder, base: pickle_with(
        folder / "model.pkl", base.sg2_kwargs, base.sg2,
        lambda s: child(s, "mapping.fc0").__setitem__("_parameters", [torch.zeros(1)])), ("not a dict",)),
    # kwargs of the wrong type or range
    "conv_clamp_string": (_kwargs_case(_synthesis("conv_clamp", "x")), ("conv_clamp", "finite number")),
    "w_dim_zero": (_kwargs_case(_top("w_dim", 0)), ("w_dim",)),
    "channel_base_zero": (_kwargs_case(_synthesis("channel_base", 0)), ("channel_base",)),
    "z_dim_negative": (_kwargs_case(_top("z_dim", -1)), ("z_dim",)),
    "img_channels_negative": (_kwargs_case(_top("img_channels", -3)), ("img_channels",)),
    "c_dim_huge": (_kwargs_case(_top("c_dim", 10 ** 9)), ("c_dim",)),
    "img_resolution_string": (_kwargs_case(_top("img_resolution", "abc")), ("img_resolution",)),
    "img_resolution_none": (_kwargs_case(_top("img_resolution", None)), ("img_resolution",)),
    "img_resolution_huge": (_kwargs_case(_top("img_resolution", 2 ** 30)), ("img_resolution",)),
    "img_resolution_infinite": (_kwargs_case(_top("img_resolution", float("inf"))), ("img_resolution",)),
    "img_resolution_object_array": (_kwargs_case(_top("img_resolution", np.array([16], dtype=object))),
                                    ("img_resolution", "numpy array")),
    "z_dim_string": (_kwargs_case(_top("z_dim", "16")), ("z_dim",)),
    "w_dim_too_big_for_weights": (_kwargs_case(_top("w_dim", 10000)), ("w_dim = 10000",)),
    "mapping_layers_huge": (_kwargs_case(lambda k: k["mapping_kwargs"].__setitem__("num_layers", 100000)),
                            ("num_layers",)),
    "sg3_layers_huge": (_kwargs_case(_top("num_layers", 100000), "stylegan3"), ("num_layers",)),
    "sg3_critical_all": (_kwargs_case(_top("num_critical", 14), "stylegan3"), ("num_critical",)),
    # tensors
    "weights_all_nan": (_with_tensor(_set("synthesis.b8.conv0.weight", lambda t: torch.full_like(t, float("nan")))),
                        ("NaN", "synthesis.b8.conv0.weight")),
    "weights_all_inf": (_with_tensor(_set("mapping.fc1.weight", lambda t: torch.full_like(t, float("inf")))),
                        ("inf", "mapping.fc1.weight")),
    "weights_one_nan": (_with_tensor(_set("synthesis.b16.torgb.bias", lambda t: t.index_fill(0, torch.tensor([1]),
                                                                                           float("nan")))),
                        ("1 NaN", "synthesis.b16.torgb.bias")),
    "tensor_zero_stride": (lambda folder, base: pickle_with(
        folder / "model.pkl", base.sg2_kwargs, base.sg2,
        _edit_tensor("mapping.fc0", "weight", torch.zeros(1).expand(base.sg2["mapping.fc0.weight"].shape))),
        ("repeats its stored values",)),
    "tensor_build_zero_stride": (lambda folder, base: pickle_with(
        folder / "model.pkl", base.sg2_kwargs, base.sg2,
        _edit_tensor("mapping.fc0", "weight", _TensorBuild(base.sg2["mapping.fc0.weight"], (2 ** 20, 2 ** 20)))),
        ("repeats its stored values",)),
    "nested_stream_bomb": (nested_stream_bomb, ("inflate",)),
    # netblend files
    "native_header_deep_nesting": (lambda folder, base: native_with(folder, base, _deep_header), ("nested",)),
    "native_kwargs_deep_nesting": (_native_kwargs(lambda s: s[:-1] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}"),
                                   ("nested",)),
    "native_shape_overflow": (_native_entry("synthesis.b4.const", "shape", [0, 2 ** 63]), ("malformed entry",)),
    "native_shape_strings": (_native_entry("synthesis.b4.conv1.bias", "shape", ["16"]), ("malformed entry",)),
    "native_shape_floats": (_native_entry("synthesis.b4.conv1.bias", "shape", [16.0]), ("malformed entry",)),
    "native_overlapping_tensors": (lambda folder, base: native_with(folder, base, _overlap), ("overlap",)),
    "native_unaligned_header": (lambda folder, base: native_with(folder, base, lambda h: json.dumps(h) + " ",
                                                                 pad=False), ("unaligned",)),
    "native_z_dim_string": (_native_kwargs(lambda s: s.replace('"z_dim": 8', '"z_dim": "16"')), ("z_dim",)),
    "native_img_resolution_infinity": (_native_kwargs(lambda s: s.replace('"img_resolution": 16',
                                                                          '"img_resolution": Infinity')),
                                       ("Infinity",)),
    "native_weights_nan": (lambda folder, base: native_with(folder, base, lambda h: None, state_dict={
        **base.sg2, "synthesis.b4.const": torch.full_like(base.sg2["synthesis.b4.const"], float("nan"))}),
        ("NaN", "synthesis.b4.const")),
    # rosinality checkpoints
    "rosinality_missing_conv1": (rosinality_with(_drop_prefix("conv1.")), ("conv1.conv.weight",)),
    "rosinality_style_rank": (rosinality_with(lambda g: g.__setitem__("style.1.weight", g["style.1.weight"][0])),
                              ("style.1.weight", "dimensions")),
    "rosinality_conv_rank": (rosinality_with(lambda g: g.__setitem__("conv1.conv.weight",
                                                                     g["conv1.conv.weight"][0, :, :, 0, 0])),
                             ("conv1.conv.weight", "dimensions")),
    "rosinality_int_key": (rosinality_with(lambda g: g.__setitem__(7, torch.zeros(1))), ("not names",)),
    "rosinality_zero_stride": (rosinality_with(lambda g: g.__setitem__("input.input",
                                                                       torch.zeros(1).expand(g["input.input"].shape))),
                               ("repeats its stored values",)),
    "rosinality_zip_bomb": (rosinality_zip_bomb, ("inflate",)),
    "legacy_storage_size": (legacy_storage_size, ("not a readable PyTorch checkpoint",)),
}
