"""``netblend project``: a photo in, the projector's .npz and a side-by-side PNG out."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from engine.commands import project as project_command
from engine.errors import LatentFileError, ModelLoadError
from engine.latents import SeedBank, load_latent
from engine.latents.projection import to_uint8
from engine.models.loaders import save_generator
from tests.latents.tiny import tiny_generator


def _project(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    project_command.configure(parser)
    return project_command.run(parser.parse_args(list(argv)))


@pytest.fixture
def model_and_photo(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty_hub"))   # no VGG16 anywhere
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                        # a 16 px model: threads only contend on a busy machine
    G = tiny_generator()
    model = save_generator(G, tmp_path / "tiny.netblend.safetensors")
    with torch.no_grad():
        target = G.synthesis(SeedBank(G).ws(4, 0.6))
    Image.fromarray(to_uint8(target)).resize((32, 32), Image.NEAREST).save(tmp_path / "face.png")
    yield G, model, tmp_path / "face.png"
    torch.set_num_threads(threads)


def test_project_writes_the_official_npz_and_a_side_by_side_png(model_and_photo, tmp_path, capsys):
    G, model, photo = model_and_photo
    out = tmp_path / "out" / "face_w.npz"
    assert _project(str(photo), "--model", str(model), "-o", str(out), "--steps", "100", "--device", "cpu") == 0
    captured = capsys.readouterr()
    assert "pixel MSE" in captured.out and "no VGG16 weights" in captured.out     # says which loss it used
    assert "100/100" in captured.err and "loss" in captured.err                      # the progress bar
    with np.load(out) as data:
        assert data.files == ["w"] and data["w"].shape == (1, G.num_ws, G.w_dim)
        assert data["w"].dtype == np.float32
        assert np.allclose(data["w"][0, 0], data["w"][0, -1])                      # W: one row, broadcast
    assert load_latent(out, G).shape == (1, G.num_ws, G.w_dim)
    side = Image.open(out.with_suffix(".png"))
    assert side.size == (2 * G.img_resolution, G.img_resolution)
    pixels = np.asarray(side).astype(np.float32)
    target, projection = pixels[:, :G.img_resolution], pixels[:, G.img_resolution:]
    with torch.no_grad():
        avg = G.synthesis(G.mapping.w_avg.view(1, 1, -1).expand(1, G.num_ws, -1))
    error, start_error = np.abs(target - projection).mean(), np.abs(target - to_uint8(avg).astype(np.float32)).mean()
    # the photo is the 8-bit, clipped render of a W: not exactly reachable, but 100 steps get within ~18 levels
    # on average (the average face is ~40 away); 25 leaves room for thread-count rounding
    assert error < 25.0 and error < 0.6 * start_error, (error, start_error)


def test_wplus_rows_differ(model_and_photo, tmp_path):
    G, model, photo = model_and_photo
    out = tmp_path / "plus.npz"
    assert _project(str(photo), "--model", str(model), "-o", str(out), "--steps", "5", "--wplus") == 0
    w = np.load(out)["w"]
    assert not np.allclose(w[0, 0], w[0, -1])


def test_bad_arguments_give_one_line_errors(model_and_photo, tmp_path):
    G, model, photo = model_and_photo
    with pytest.raises(LatentFileError, match="writes .npz"):
        _project(str(photo), "--model", str(model), "-o", str(tmp_path / "w.npy"))
    with pytest.raises(ModelLoadError, match="do not exist"):
        _project(str(photo), "--model", str(model), "-o", str(tmp_path / "w.npz"), "--steps", "1",
                 "--vgg16", str(tmp_path / "nope.pth"))
