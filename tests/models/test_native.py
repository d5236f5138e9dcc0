"""netblend's own format: safetensors-compatible layout, exact round trip, atomic writes, corrupt files."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
import torch

from engine.errors import ModelLoadError
from engine.models.build import build_generator
from engine.models.loaders import detect_format, load_generator, read_model, save_generator
from engine.models.loaders.native import read_native, save_native
from tests.models.official_pickle import write_official_pickle

KWARGS = {"z_dim": 8, "w_dim": 8, "c_dim": 0, "img_resolution": 8, "img_channels": 3,
          "mapping_kwargs": {"num_layers": 1}, "channel_base": 64, "channel_max": 8,
          "num_fp16_res": 0, "conv_clamp": 256}

TENSORS = {
    "a.weight": torch.randn(3, 4, 2, 2, generator=torch.Generator().manual_seed(0)),
    "a.noise_strength": torch.tensor(0.25),                     # 0-d
    "b.half": torch.arange(5, dtype=torch.float16),
    "b.bf16": torch.linspace(-1, 1, 3, dtype=torch.bfloat16),
    "c.count": torch.tensor([7, -3], dtype=torch.int64),
    "c.flag": torch.tensor([True, False]),
    "c.empty": torch.zeros(0, 4),
}


def _write(path, tensors=None, family="stylegan2", kwargs=None):
    return save_native(path, TENSORS if tensors is None else tensors, kwargs or KWARGS, family)


def test_round_trip_is_exact_for_every_dtype_and_shape(tmp_path):
    model = read_native(_write(tmp_path / "m.netblend.safetensors"))
    assert model.family == "stylegan2" and model.init_kwargs == KWARGS
    assert sorted(model.state_dict) == sorted(TENSORS)
    for key, tensor in TENSORS.items():
        got = model.state_dict[key]
        assert got.dtype == tensor.dtype and got.shape == tensor.shape and torch.equal(got, tensor), key


def test_layout_is_safetensors(tmp_path):
    """Read back with nothing but struct/json/numpy, the way any safetensors reader does."""
    raw = _write(tmp_path / "m.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    assert (8 + length) % 8 == 0
    meta = header.pop("__metadata__")
    assert meta["format"] == "netblend" and meta["version"] == "1" and meta["family"] == "stylegan2"
    assert json.loads(meta["init_kwargs"]) == KWARGS and all(isinstance(v, str) for v in meta.values())
    spans = sorted(tuple(v["data_offsets"]) for v in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(raw) - 8 - length
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))           # no holes, no overlaps
    begin, end = header["a.weight"]["data_offsets"]
    assert header["a.weight"]["dtype"] == "F32" and header["a.weight"]["shape"] == [3, 4, 2, 2]
    data = np.frombuffer(raw[8 + length + begin:8 + length + end], dtype="<f4").reshape(3, 4, 2, 2)
    assert np.array_equal(data, TENSORS["a.weight"].numpy())


def test_write_is_atomic(tmp_path, monkeypatch):
    path = _write(tmp_path / "m.netblend.safetensors")
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("engine.models.loaders.native.os.replace", crash)
    with pytest.raises(OSError):
        _write(path, {"other": torch.ones(2)})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]     # no temp file left behind


def test_generator_round_trip_renders_identically(tmp_path):
    torch.manual_seed(0)
    G = build_generator(KWARGS)
    path = save_generator(G, tmp_path / "g.netblend.safetensors")
    assert detect_format(path) == "native"
    loaded = load_generator(path)
    assert loaded.family == G.family and loaded.init_kwargs == G.init_kwargs
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(loaded(z, None, truncation_psi=0.5), G(z, None, truncation_psi=0.5))


def _corrupt_cases(raw: bytes) -> dict[str, bytes]:
    (length,) = struct.unpack("<Q", raw[:8])
    header = raw[8:8 + length]
    bad_json = header.replace(b'"__metadata__"', b'"__metadata__',)
    wrong_format = header.replace(b'"netblend"', b'"otherfmt"')
    newer = header.replace(b'"version":"1"', b'"version":"9"')
    return {
        "header length": struct.pack("<Q", 10**12) + raw[8:],
        "does not parse": raw[:8] + bad_json + raw[8 + length:],
        "without netblend metadata": raw[:8] + wrong_format + raw[8 + length:],
        "version": raw[:8] + newer + raw[8 + length:],
        "does not fit": raw[: len(raw) - 16],                           # truncated data
        "shorter": raw[:5],
    }


@pytest.mark.parametrize("problem", ["header length", "does not parse", "without netblend metadata", "version",
                                     "does not fit", "shorter"])
def test_corrupt_files_are_refused_with_one_line(tmp_path, problem):
    raw = _write(tmp_path / "good.netblend.safetensors").read_bytes()
    path = tmp_path / "bad.netblend.safetensors"
    path.write_bytes(_corrupt_cases(raw)[problem])
    with pytest.raises(ModelLoadError) as excinfo:
        read_native(path)
    message = str(excinfo.value)
    assert "\n" not in message and str(path) in message and problem in message


def test_corrupt_header_through_load_generator(tmp_path):
    raw = _write(tmp_path / "good.netblend.safetensors").read_bytes()
    path = tmp_path / "bad.netblend.safetensors"
    path.write_bytes(_corrupt_cases(raw)["does not parse"])
    with pytest.raises(ModelLoadError, match="corrupt netblend file"):
        load_generator(path)


def _best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.slow
def test_native_file_reads_at_least_ten_times_faster_than_the_pickle(tmp_path):
    """File -> tensors for a ~6 M parameter StyleGAN2-256 (the margin seen here is > 100x)."""
    kwargs = {"z_dim": 256, "w_dim": 256, "c_dim": 0, "img_resolution": 256, "img_channels": 3,
              "mapping_kwargs": {"num_layers": 8}, "channel_base": 8192, "channel_max": 256,
              "num_fp16_res": 0, "conv_clamp": 256}
    torch.manual_seed(0)
    G = build_generator(kwargs)
    pkl = write_official_pickle(tmp_path / "g.pkl", kwargs, G.state_dict(), training_copy=True)
    nat = save_generator(G, tmp_path / "g.netblend.safetensors")
    assert _best_of(lambda: read_model(pkl)) >= 10 * _best_of(lambda: read_model(nat))
