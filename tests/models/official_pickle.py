"""Test helper: write generators in the official training-pickle format (netblend's own writer).

Each network becomes ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with
``meta = {type, version, module_src, class_name, state}``; the state mimics a torch module's
``__dict__`` (``_parameters``, ``_buffers``, ``_modules`` of nested persistent objects, hooks as
OrderedDicts, numpy scalar attributes, ``_init_kwargs``). Tensors pickle the way torch pickles them
with plain ``pickle`` (``_rebuild_tensor_v2`` over ``torch.storage._load_from_bytes``).

The names ``torch_utils.persistence`` and ``dnnlib.util`` exist only while a pickle is being written
(temporary modules in ``sys.modules``) so that ``pickle`` can refer to them.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

BUFFER_NAMES = frozenset({"w_avg", "resample_filter", "noise_const", "magnitude_ema", "up_filter",
                          "down_filter", "transform", "freqs", "phases"})
CLASS_NAMES = {"": "Generator", "mapping": "MappingNetwork", "synthesis": "SynthesisNetwork"}
PLACEHOLDER_SRC = "# module source omitted (written by netblend's tests)\n"


class _Persistent:
    """A network to be pickled as ``_reconstruct_persistent_obj(meta)``."""

    def __init__(self, meta: dict) -> None:
        self.meta = meta

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


def _reconstruct_persistent_obj(meta):  # never called: only its name goes into the pickle
    raise AssertionError("the test writer's stand-in must never be called")


class EasyDict(dict):
    """Pickled under the name ``dnnlib.util.EasyDict``."""


@contextlib.contextmanager
def _official_names() -> Iterator[None]:
    """Make ``torch_utils.persistence`` and ``dnnlib.util`` importable while pickling."""
    added = []
    fake = {"torch_utils": None, "torch_utils.persistence": _reconstruct_persistent_obj,
            "dnnlib": None, "dnnlib.util": EasyDict}
    for name, obj in fake.items():
        if name not in sys.modules:
            module = types.ModuleType(name)
            if obj is not None:
                setattr(module, obj.__name__, obj)
                obj.__module__ = name
            sys.modules[name] = module
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def _module_state(children: dict, tensors: dict[str, torch.Tensor], extra: dict) -> dict:
    params = {k: torch.nn.Parameter(t.clone(), requires_grad=False)
              for k, t in tensors.items() if k not in BUFFER_NAMES}
    buffers = {k: t.clone() for k, t in tensors.items() if k in BUFFER_NAMES}
    hooks = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_pre_hooks",
             "_state_dict_hooks", "_load_state_dict_pre_hooks")
    return {"training": False, "_parameters": params, "_buffers": buffers,
            "_non_persistent_buffers_set": set(), **{h: collections.OrderedDict() for h in hooks},
            "_modules": children, "act_gain": np.float64(2 ** 0.5), **extra}


def _tree(state_dict: Mapping[str, torch.Tensor]) -> dict:
    root: dict = {"tensors": {}, "children": {}}
    for key, tensor in state_dict.items():
        *path, name = key.split(".")
        node = root
        for part in path:
            node = node["children"].setdefault(part, {"tensors": {}, "children": {}})
        node["tensors"][name] = torch.as_tensor(tensor)
    return root


def network(init_kwargs: dict, state_dict: Mapping[str, torch.Tensor], module_src: str = PLACEHOLDER_SRC,
            non_persistent: Mapping[str, torch.Tensor] | None = None) -> _Persistent:
    """A generator as a nested persistent object; ``non_persistent`` adds such buffers to the root."""

    def build(node: dict, path: str, extra: dict) -> _Persistent:
        children = {name: build(child, f"{path}.{name}".lstrip("."), {}) for name, child in
                    node["children"].items()}
        state = _module_state(children, node["tensors"], extra)
        meta = {"type": "class", "version": 6, "module_src": module_src,
                "class_name": CLASS_NAMES.get(path, "Layer"), "state": state}
        return _Persistent(meta)

    kwargs = dict(init_kwargs)
    if isinstance(kwargs.get("synthesis_kwargs"), dict):
        kwargs["synthesis_kwargs"] = EasyDict(kwargs["synthesis_kwargs"])
    root = build(_tree(state_dict), "", {"_init_args": (), "_init_kwargs": kwargs,
                                         "z_dim": kwargs.get("z_dim"),
                                         "filter_taps": np.linspace(0.0, 1.0, 4)})
    if non_persistent:
        root.meta["state"]["_buffers"].update({k: v.clone() for k, v in non_persistent.items()})
        root.meta["state"]["_non_persistent_buffers_set"] = set(non_persistent)
    return root


def write_official_pickle(path: Path, init_kwargs: dict, state_dict: Mapping[str, torch.Tensor], *,
                          layout: str = "dict", module_src: str = PLACEHOLDER_SRC, numpy1: bool = False,
                          training_copy: bool = False,
                          extra_networks: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
                          non_persistent: Mapping[str, torch.Tensor] | None = None) -> Path:
    """Write an official-format training pickle of one generator.

    layout: "dict" ({'G_ema', 'training_set_kwargs', 'augment_pipe'}, plus 'G' when ``training_copy``),
    "G" (the dict holds only 'G') or "generator" (the pickled network alone). ``numpy1`` names numpy's
    globals as numpy 1.x did (``numpy.core.multiarray``; written with pickle protocol 2).
    """
    G_ema = network(init_kwargs, state_dict, module_src, non_persistent)
    if layout == "generator":
        data: Any = G_ema
    elif layout == "G":
        data = {"G": G_ema, "augment_pipe": None}
    else:
        data = {"G_ema": G_ema, "training_set_kwargs": EasyDict(resolution=init_kwargs.get("img_resolution")),
                "augment_pipe": None}
        if training_copy:
            data["G"] = network(init_kwargs, state_dict, module_src)
        for name, tensors in (extra_networks or {}).items():
            data[name] = network({}, tensors, module_src)
    with _official_names():
        raw = pickle.dumps(data, protocol=2 if numpy1 else 4)
    if numpy1:
        assert b"cnumpy._core.multiarray\n" in raw
        raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    path = Path(path)
    path.write_bytes(raw)
    return path
