"""load_generator: official training pickles (oracle parity), rosinality checkpoints, format detection,
the cache, and bad or hostile files (refused with a one-line message; nothing in them runs)."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch

from engine.errors import ModelLoadError
from engine.models.build import build_generator
from engine.models.loaders import build_from_weights, cache_path, detect_format, load_generator, read_model
from tests.models.official_pickle import write_official_pickle
from tests.models.rosinality_checkpoint import to_rosinality

TINY_KWARGS = {"z_dim": 16, "w_dim": 24, "c_dim": 0, "img_resolution": 16, "img_channels": 3,
               "mapping_kwargs": {"num_layers": 2},
               "synthesis_kwargs": {"channel_base": 128, "channel_max": 32, "num_fp16_res": 0, "conv_clamp": None}}


def _tiny_state_dict(kwargs: dict = TINY_KWARGS, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in which every tensor matters (biases and noise strengths are not zero)."""
    torch.manual_seed(seed)
    G = build_generator(kwargs)
    sd = {k: v.clone() for k, v in G.state_dict().items()}
    for key, value in sd.items():
        if key.endswith(("bias", "noise_strength", "w_avg")):
            sd[key] = value + 0.1 * torch.randn_like(value)
    return sd


def _render(G, seed: int = 0, psi: float = 0.7) -> torch.Tensor:
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim))
    return G.synthesis(G.mapping(z, None, truncation_psi=psi), noise_mode="const")   # [1, 3, R, R]


@pytest.fixture(scope="module")
def tiny():
    sd = _tiny_state_dict()
    return sd, build_generator(TINY_KWARGS, sd)


@pytest.fixture
def tiny_pkl(tmp_path, tiny):
    return write_official_pickle(tmp_path / "tiny.pkl", TINY_KWARGS, tiny[0])


def _assert_one_line_error(excinfo, path, *words):
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message, message


# ---- official pickles (oracle) ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sg2_64_A", "sg3t_64_A"])
def test_oracle_pickle_yields_the_oracle_tensors_and_kwargs(oracle, name):
    kwargs, sd, _ = read_model(oracle / f"{name}.pkl")
    ref = np.load(oracle / f"{name}.npz")
    assert kwargs == json.load(open(oracle / f"{name}.json"))["init_kwargs"]
    assert sorted(sd) == sorted(ref.files)
    for key in ref.files:
        assert sd[key].shape == ref[key].shape and np.array_equal(sd[key].numpy(), ref[key]), key


@pytest.mark.parametrize("name", ["sg2_64_A", "sg3t_64_A"])
def test_oracle_pickle_renders_the_reference_images(oracle, name):
    G = load_generator(oracle / f"{name}.pkl", cache=False)
    ref = np.load(oracle / f"{name}_ref.npz")
    ws = G.mapping(torch.from_numpy(ref["z_seed1"]), None, truncation_psi=0.7)
    img = G.synthesis(ws, noise_mode="const").numpy()
    expected = ref["img_s1_psi0.7"]
    assert np.abs(img - expected).max() <= 2e-5 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("options", [{}, {"numpy1": True}, {"layout": "generator"}, {"layout": "G"},
                                     {"training_copy": True},
                                     {"non_persistent": {"scratch": torch.ones(3)}}])
def test_official_pickle_variants_load_the_same_weights(tmp_path, tiny, options):
    sd, G = tiny
    path = write_official_pickle(tmp_path / "variant.pkl", TINY_KWARGS, sd, **options)
    kwargs, loaded, _ = read_model(path)
    assert kwargs == TINY_KWARGS
    assert sorted(loaded) == sorted(sd) and all(torch.equal(loaded[k], sd[k]) for k in sd)
    assert torch.equal(_render(load_generator(path, cache=False)), _render(G))


def test_format_is_detected_by_content_not_extension(tmp_path, tiny):
    path = write_official_pickle(tmp_path / "model.weights", TINY_KWARGS, tiny[0])
    assert detect_format(path) == "pickle"
    assert torch.equal(_render(load_generator(path, cache=False)), _render(tiny[1]))


def test_loaded_tensors_are_adopted_without_a_copy(tiny):
    sd = {k: v.clone() for k, v in tiny[0].items()}
    G = build_from_weights(TINY_KWARGS, sd, "cpu", None)
    assert G.state_dict()["synthesis.b8.conv0.weight"].data_ptr() == sd["synthesis.b8.conv0.weight"].data_ptr()
    assert not any(t.is_meta for t in G.state_dict().values())
    assert torch.equal(_render(G), _render(tiny[1]))


def test_weights_that_do_not_fit_name_the_keys(tmp_path, tiny):
    sd = {k: v for k, v in tiny[0].items() if k != "synthesis.b8.conv1.bias"}
    path = write_official_pickle(tmp_path / "partial.pkl", TINY_KWARGS, sd)
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path, cache=False)
    _assert_one_line_error(excinfo, path, "synthesis.b8.conv1.bias")


# ---- hostile files -------------------------------------------------------------------------------

class _Call:
    """Pickles as a call of ``fn(*args)``: what a hostile pickle does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _hostile_calls(marker):
    return {
        "os.system": (os.system, f"touch {marker}"),
        "subprocess.call": (subprocess.call, ["touch", str(marker)]),
        "builtins.eval": (eval, f"open({str(marker)!r}, 'w').write('ran')"),
        "builtins.exec": (exec, f"open({str(marker)!r}, 'w').write('ran')"),
    }


@pytest.mark.parametrize("call", ["os.system", "subprocess.call", "builtins.eval", "builtins.exec"])
def test_pickle_calling_a_system_function_is_refused_and_nothing_runs(tmp_path, call):
    marker = tmp_path / "marker"
    fn, arg = _hostile_calls(marker)[call]
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Call(fn, arg)}))
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path, cache=False)
    _assert_one_line_error(excinfo, path, "refused", fn.__name__)
    assert not marker.exists()


def test_hostile_pickle_payload_really_runs_under_plain_pickle(tmp_path):
    """Control for the test above: the same payload does create the marker when unpickled naively."""
    marker = tmp_path / "marker"
    fn, arg = _hostile_calls(marker)["builtins.exec"]
    pickle.loads(pickle.dumps(_Call(fn, arg)))
    assert marker.exists()


def test_code_hidden_in_a_nested_tensor_stream_is_refused(tmp_path):
    marker = tmp_path / "marker"
    nested = tmp_path / "nested.bin"
    torch.save(_Call(exec, f"open({str(marker)!r}, 'w').write('ran')"), nested)
    path = tmp_path / "evil_tensor.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Call(torch.storage._load_from_bytes, nested.read_bytes())}))
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path, cache=False)
    _assert_one_line_error(excinfo, path, "refused")
    assert not marker.exists()


def test_embedded_module_source_is_never_executed(tmp_path, tiny):
    marker = tmp_path / "marker"
    source = f"open({str(marker)!r}, 'w').write('ran')\nimport os\nos.system('touch {marker}')\n"
    path = write_official_pickle(tmp_path / "src.pkl", TINY_KWARGS, tiny[0], module_src=source)
    G = load_generator(path, cache=False)
    assert torch.equal(_render(G), _render(tiny[1]))
    assert not marker.exists()


# ---- broken files --------------------------------------------------------------------------------

def test_missing_path(tmp_path):
    path = tmp_path / "nope.pkl"
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "no such model file")


def test_directory(tmp_path):
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(tmp_path)
    _assert_one_line_error(excinfo, tmp_path, "directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pkl"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "empty")


def test_text_file(tmp_path):
    path = tmp_path / "notes.pkl"
    path.write_text("These are my favourite seeds: 12, 42, 1234\n")
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "text file")


def test_truncated_pickle(tmp_path, tiny_pkl):
    path = tmp_path / "half.pkl"
    path.write_bytes(tiny_pkl.read_bytes()[: tiny_pkl.stat().st_size // 2])
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "truncated")


def test_random_bytes_are_an_unknown_format(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(bytes(range(1, 256)) * 4)
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "unknown file format")


def test_pickle_without_a_generator(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"D": None, "step": 3}))
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "G_ema")


# ---- rosinality checkpoints ----------------------------------------------------------------------

@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_rosinality_checkpoint_round_trip_renders_the_same_image(tmp_path, zip_format):
    kwargs = dict(TINY_KWARGS, z_dim=24)
    sd = _tiny_state_dict(kwargs, seed=1)
    G = build_generator(kwargs, sd)
    path = tmp_path / "g.pt"
    torch.save({"g_ema": to_rosinality(sd, 16), "latent_avg": sd["mapping.w_avg"],
                "args": argparse.Namespace(size=16, n_mlp=2)}, path, _use_new_zipfile_serialization=zip_format)
    loaded = load_generator(path, cache=False)
    assert loaded.init_kwargs["img_resolution"] == 16 and loaded.z_dim == loaded.w_dim == 24
    assert loaded.init_kwargs["mapping_kwargs"]["num_layers"] == 2
    assert sorted(loaded.state_dict()) == sorted(sd)
    assert all(torch.equal(loaded.state_dict()[k], sd[k]) for k in sd)
    assert torch.equal(_render(loaded, psi=0.5), _render(G, psi=0.5))


@pytest.mark.parametrize("multiplier, base", [(2, 32768), (1, 16384)])
def test_rosinality_config_f_kwargs_are_inferred(multiplier, base):
    from engine.models.loaders.rosinality import infer_kwargs

    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * multiplier, 128: 128 * multiplier,
                256: 64 * multiplier, 512: 32 * multiplier, 1024: 16 * multiplier}
    meta = {f"style.{i}.weight": torch.empty(512, 512, device="meta") for i in range(1, 9)}
    meta["conv1.conv.weight"] = torch.empty(1, 512, 512, 3, 3, device="meta")
    for k, res in enumerate([8, 16, 32, 64, 128, 256, 512, 1024]):
        meta[f"convs.{2 * k}.conv.weight"] = torch.empty(1, channels[res], channels[res // 2], 3, 3, device="meta")
        meta[f"to_rgbs.{k}.conv.weight"] = torch.empty(1, 3, channels[res], 1, 1, device="meta")
    kwargs = infer_kwargs(meta, "ffhq.pt")
    assert (kwargs["img_resolution"], kwargs["z_dim"], kwargs["w_dim"]) == (1024, 512, 512)
    assert kwargs["mapping_kwargs"] == {"num_layers": 8}
    assert kwargs["synthesis_kwargs"]["channel_base"] == base and kwargs["synthesis_kwargs"]["channel_max"] == 512


def test_rosinality_without_latent_avg_estimates_it(tmp_path):
    kwargs = dict(TINY_KWARGS, z_dim=24)
    sd = _tiny_state_dict(kwargs, seed=2)
    path = tmp_path / "no_avg.pt"
    torch.save({"g_ema": to_rosinality(sd, 16)}, path)
    G = load_generator(path, cache=False)
    z = torch.randn(4000, 24, generator=torch.Generator().manual_seed(5))
    mean = G.mapping(z, None, truncation_psi=1.0)[:, 0].mean(0)
    assert torch.allclose(G.mapping.w_avg, mean, atol=0.05 * mean.abs().max().item())


def test_rosinality_checkpoint_without_g_ema(tmp_path):
    path = tmp_path / "d_only.pt"
    torch.save({"d": {"convs.0.0.weight": torch.zeros(1)}, "latent_avg": torch.zeros(24)}, path)
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "g_ema")


def test_torch_checkpoint_with_code_is_refused(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": _Call(exec, f"open({str(marker)!r}, 'w').write('ran')")}, path)
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    _assert_one_line_error(excinfo, path, "refused")
    assert not marker.exists()


# ---- cache ---------------------------------------------------------------------------------------

def test_cache_is_written_then_used(tmp_path, monkeypatch, tiny, tiny_pkl):
    monkeypatch.setenv("NETBLEND_CACHE", str(tmp_path / "cache"))
    first = load_generator(tiny_pkl)
    cached = cache_path(tiny_pkl)
    assert cached.exists() and detect_format(cached) == "native"

    def no_pickle_reading(path):
        raise AssertionError("the cached copy should have been used")

    monkeypatch.setattr("engine.models.loaders.safe_pickle.read_training_pickle", no_pickle_reading)
    again = load_generator(tiny_pkl)
    assert torch.equal(_render(again), _render(first))


def test_cache_key_follows_the_source_file(tmp_path, monkeypatch, tiny_pkl):
    monkeypatch.setenv("NETBLEND_CACHE", str(tmp_path / "cache"))
    before = cache_path(tiny_pkl)
    stat = tiny_pkl.stat()
    os.utime(tiny_pkl, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert cache_path(tiny_pkl) != before


def test_corrupt_cache_entry_is_ignored_and_rewritten(tmp_path, monkeypatch, tiny, tiny_pkl):
    monkeypatch.setenv("NETBLEND_CACHE", str(tmp_path / "cache"))
    cached = cache_path(tiny_pkl)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    G = load_generator(tiny_pkl)
    assert torch.equal(_render(G), _render(tiny[1]))
    assert detect_format(cached) == "native" and read_model(cached)[2] == "stylegan2"


def test_cache_off_writes_nothing(tmp_path, monkeypatch, tiny_pkl):
    monkeypatch.setenv("NETBLEND_CACHE", str(tmp_path / "cache"))
    load_generator(tiny_pkl, cache=False)
    assert not (tmp_path / "cache").exists()

