"""engine.models.checks: real configurations pass every load-time check (and still load and render the
same), the checks' limits hold, ``check_renders`` refuses what cannot render, and running out of memory
while loading is reported with its reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.blend.generator import BlendedGenerator
from engine.cli import main
from engine.errors import ModelLoadError
from engine.models.build import build_generator, flatten_kwargs
from engine.models.checks import (
    check_kwargs,
    check_parameter_bound,
    check_renders,
    check_tensor_layout,
    parameter_bound,
    plain_kwargs,
)
from engine.models.loaders import load_generator, save_generator
from engine.models.loaders.rosinality import infer_kwargs
from engine.models.stylegan3 import stylegan3_kwargs
from tests.models.official_pickle import write_official_pickle
from tests.models.sg2_helpers import tiny_generator, tiny_kwargs

SG2_ADA_1024 = {"z_dim": 512, "w_dim": 512, "c_dim": 0, "img_resolution": 1024, "img_channels": 3,
                "mapping_kwargs": {"num_layers": 8},
                "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}}
SG2_ADA_CIFAR = {"z_dim": 512, "w_dim": 512, "c_dim": 10, "img_resolution": 32, "img_channels": 3,
                 "mapping_kwargs": {"num_layers": 2},
                 "synthesis_kwargs": {"channel_base": 16384, "channel_max": 512, "num_fp16_res": 4,
                                      "conv_clamp": 256, "architecture": "orig"}}


def _rosinality_config_f() -> dict:
    meta = {f"style.{i}.weight": torch.empty(512, 512, device="meta") for i in range(1, 9)}
    meta["conv1.conv.weight"] = torch.empty(1, 512, 512, 3, 3, device="meta")
    for k, res in enumerate([8, 16, 32, 64, 128, 256, 512, 1024]):
        channels = min(32768 // res, 512)
        meta[f"convs.{2 * k}.conv.weight"] = torch.empty(1, channels, channels, 3, 3, device="meta")
    return infer_kwargs(meta, "ffhq.pt")


OFFICIAL = {"sg2-ada-1024": ("stylegan2", SG2_ADA_1024), "sg2-ada-cifar": ("stylegan2", SG2_ADA_CIFAR),
            "rosinality-config-f": ("stylegan2", _rosinality_config_f()),
            **{f"sg3-{c}-{r}": ("stylegan3", stylegan3_kwargs(c, r)) for c in "TR" for r in (256, 1024)}}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_configurations_pass_the_kwargs_checks(name):
    family, kwargs = OFFICIAL[name]
    flat = flatten_kwargs(plain_kwargs(kwargs))
    check_kwargs(family, flat)
    check_parameter_bound(family, flat)


@pytest.mark.parametrize("family, kwargs", [
    ("stylegan2", tiny_kwargs("skip", resolution=32)), ("stylegan2", tiny_kwargs("resnet", c_dim=3)),
    ("stylegan3", stylegan3_kwargs("T", 16, z_dim=8, w_dim=16, channel_base=256, channel_max=16)),
    ("stylegan3", stylegan3_kwargs("R", 16, z_dim=8, w_dim=16, channel_base=256, channel_max=16)),
])
def test_parameter_bound_is_an_upper_bound(family, kwargs):
    G = build_generator(kwargs)
    values = sum(t.numel() for t in G.state_dict().values())
    assert values <= parameter_bound(family, flatten_kwargs(kwargs)) <= 40 * values


VARIANTS = {
    "sg2-orig": lambda: (tiny_kwargs("orig"), tiny_generator("orig", seed=1)),
    "sg2-resnet": lambda: (tiny_kwargs("resnet"), tiny_generator("resnet", seed=2)),
    "sg2-conditional": lambda: (tiny_kwargs("skip", c_dim=3), tiny_generator("skip", c_dim=3, seed=3)),
    "sg3-R": lambda: (stylegan3_kwargs("R", 16, z_dim=8, w_dim=16, channel_base=256, channel_max=16),
                      build_generator(stylegan3_kwargs("R", 16, z_dim=8, w_dim=16, channel_base=256,
                                                       channel_max=16))),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_real_variants_still_load_and_render_exactly(tmp_path, name):
    torch.manual_seed(0)
    kwargs, G = VARIANTS[name]()
    z = torch.from_numpy(np.random.RandomState(5).randn(1, G.z_dim))
    c = torch.eye(G.c_dim)[:1] if G.c_dim else None
    expected = G.synthesis(G.mapping(z, c, truncation_psi=0.7), noise_mode="const")
    pkl = write_official_pickle(tmp_path / "g.pkl", kwargs, G.state_dict())
    native = save_generator(load_generator(pkl, cache=False), tmp_path / "g.netblend.safetensors")
    for path in (pkl, native):
        loaded = load_generator(path, cache=False)
        assert torch.equal(loaded.synthesis(loaded.mapping(z, c, truncation_psi=0.7), noise_mode="const"), expected)
        check_renders(loaded, "cpu", name=str(path))


# ---- limits -------------------------------------------------------------------------------------------

def test_kwargs_copy_keeps_plain_values_and_shared_empty_tuples():
    kwargs = {"z_dim": np.int64(8), "beta": np.float32(0.5), "a": (), "b": (), "taps": (1, 3, 3, 1),
              "nested": {"flag": np.bool_(True)}}
    assert plain_kwargs(kwargs) == {"z_dim": 8, "beta": 0.5, "a": [], "b": [], "taps": [1, 3, 3, 1],
                                    "nested": {"flag": True}}
    assert type(plain_kwargs(kwargs)["z_dim"]) is int


@pytest.mark.parametrize("kwargs, words", [
    ({"a": [1], "b": None}, None),
    ({"wide": list(range(20_000))}, "more than 10,000 values"),
    ({"z_dim": 10 ** 5000, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "mapping_kwargs": {}}, "bits"),
    ({"a": {1.5: 2}}, "key 1.5"),
    ({"s": "x" * 20_000}, "20,000 characters"),
    ({"f": {1, 2}}, "a set"),
])
def test_kwargs_limits(kwargs, words):
    if words is None:
        shared = [1, 2]
        with pytest.raises(ModelLoadError, match="refers back"):
            plain_kwargs({"a": shared, "b": shared})
        return
    with pytest.raises(ModelLoadError, match=words):
        flat = plain_kwargs(kwargs)
        check_kwargs("stylegan2", flatten_kwargs(flat))


@pytest.mark.parametrize("changes, words", [
    ({"first_stopband": 0.5, "first_cutoff": 0.25, "num_layers": 2, "num_critical": 0}, "resample by 128/2"),
    ({"first_stopband": 2 ** -6}, "no valid layer layout"),                # a 0-sample first layer
])
def test_sg3_kwargs_that_would_make_huge_layers_are_refused(changes, words):
    kwargs = flatten_kwargs(stylegan3_kwargs("T", 1024))
    kwargs.update(changes)
    with pytest.raises(ModelLoadError, match=words):
        check_kwargs("stylegan3", kwargs)


def test_tensors_sharing_their_bytes_are_refused():
    storage = torch.randn(64)
    with pytest.raises(ModelLoadError, match="shares its stored bytes"):
        check_tensor_layout({f"t{i}": storage.view(8, 8) for i in range(3)})
    check_tensor_layout({"gappy": torch.randn(4, 6)[:, :3], "own": torch.randn(3)})   # a slice is fine


# ---- check_renders ------------------------------------------------------------------------------------

def test_check_renders_passes_a_healthy_model_and_a_blend():
    G = tiny_generator(seed=4)
    check_renders(G, "cpu", name="healthy.pkl")
    check_renders(BlendedGenerator([G, tiny_generator(seed=5)]), "cpu")


def test_check_renders_refuses_a_model_that_raises(tmp_path):
    G = build_generator({**tiny_kwargs(), "synthesis_kwargs": {**tiny_kwargs()["synthesis_kwargs"],
                                                               "conv_clamp": "x"}})
    with pytest.raises(ModelLoadError) as excinfo:
        check_renders(G, "cpu", name="/shows/clamp.pkl")
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith("/shows/clamp.pkl: cannot render a frame on cpu")
    assert "TypeError" in message


def test_check_renders_refuses_non_finite_pixels():
    G = tiny_generator(seed=6)
    with torch.no_grad():
        G.synthesis.b8.conv0.weight[0, 0, 0, 0] = float("nan")     # e.g. corrupted on the device
    with pytest.raises(ModelLoadError, match="NaN or infinite") as excinfo:
        check_renders(G, "cpu")
    assert "16 px stylegan2 model" in str(excinfo.value)


# ---- memory -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["engine.models.loaders.safe_pickle.SafeUnpickler.load",
                                   "engine.models.loaders.check_finite"])
def test_running_out_of_memory_is_reported_with_a_reason(tmp_path, monkeypatch, capsys, where):
    path = write_official_pickle(tmp_path / "big.pkl", tiny_kwargs(), tiny_generator(seed=7).state_dict())

    def out_of_memory(*args, **kwargs):
        raise MemoryError()                                           # what a failed allocation raises

    monkeypatch.setattr(where, out_of_memory)
    assert main(["inspect", str(path)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"netblend: error: {path}: ran out of memory while ") and "\n" not in line


@pytest.mark.gpu
def test_check_renders_on_the_device(device):
    G = tiny_generator(seed=8).to(device)
    check_renders(G, device, name="gpu.pkl")
    with torch.no_grad():
        G.mapping.fc0.weight[0, 0] = float("nan")
    with pytest.raises(ModelLoadError, match=f"gpu.pkl: renders .* NaN or infinite on {device}"):
        check_renders(G, device, name="gpu.pkl")
