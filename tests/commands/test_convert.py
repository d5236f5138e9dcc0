"""``netblend convert``: official pickle -> netblend file that renders the same images."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from engine.commands import convert
from engine.errors import ModelLoadError
from engine.models.build import build_generator
from engine.models.loaders import detect_format, load_generator
from tests.models.official_pickle import write_official_pickle

KWARGS = {"z_dim": 8, "w_dim": 16, "c_dim": 0, "img_resolution": 8, "img_channels": 3,
          "mapping_kwargs": {"num_layers": 2},
          "synthesis_kwargs": {"channel_base": 64, "channel_max": 16, "num_fp16_res": 0, "conv_clamp": 256}}


def _convert(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    convert.configure(parser)
    return convert.run(parser.parse_args(list(argv)))


@pytest.fixture
def source(tmp_path):
    torch.manual_seed(0)
    G = build_generator(KWARGS)
    return write_official_pickle(tmp_path / "face.pkl", KWARGS, G.state_dict()), G


def _image(G):
    z = torch.from_numpy(np.random.RandomState(3).randn(1, G.z_dim))
    return G.synthesis(G.mapping(z, None, truncation_psi=0.7), noise_mode="const")


def test_convert_writes_a_native_file_that_renders_the_same(tmp_path, source, capsys):
    pkl, G = source
    out = tmp_path / "out" / "face.netblend.safetensors"
    assert _convert(str(pkl), "-o", str(out)) == 0
    assert detect_format(out) == "native"
    assert torch.equal(_image(load_generator(out)), _image(G))
    assert str(out) in capsys.readouterr().out


def test_default_output_is_beside_the_source(source):
    pkl, _ = source
    assert _convert(str(pkl)) == 0
    assert pkl.with_name("face.netblend.safetensors").exists()


def test_existing_output_needs_force(tmp_path, source):
    pkl, _ = source
    out = tmp_path / "x.netblend.safetensors"
    out.write_bytes(b"keep me")
    with pytest.raises(ModelLoadError, match="--force"):
        _convert(str(pkl), "-o", str(out))
    assert out.read_bytes() == b"keep me"
    assert _convert(str(pkl), "-o", str(out), "--force") == 0
    assert detect_format(out) == "native"


def test_bad_source_is_a_one_line_error(tmp_path):
    text = tmp_path / "readme.pkl"
    text.write_text("not a model\n")
    with pytest.raises(ModelLoadError, match="text file"):
        _convert(str(text), "-o", str(tmp_path / "o.netblend.safetensors"))
    assert not (tmp_path / "o.netblend.safetensors").exists()


def test_cli_prints_the_error_without_a_traceback(tmp_path, capsys):
    cli = pytest.importorskip("engine.cli")
    try:
        cli.build_parser()
    except ImportError as e:
        pytest.skip(f"another subcommand is not importable yet: {e}")
    code = cli.main(["convert", str(tmp_path / "missing.pkl")])
    err = capsys.readouterr().err
    assert code == 2 and "no such model file" in err and "Traceback" not in err
