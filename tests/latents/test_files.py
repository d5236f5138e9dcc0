import numpy as np
import pytest
import torch

from engine.errors import LatentFileError
from engine.latents.files import describe_layout, load_latent, save_latent


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".pt"])
def test_round_trip(tmp_path, suffix):
    ws = torch.randn(1, 10, 128)
    path = save_latent(tmp_path / f"w{suffix}", ws)
    back = load_latent(path, num_ws=10, w_dim=128)
    assert back.dtype == torch.float32 and torch.equal(back, ws)


def test_official_projector_npz_and_pt_variants(tmp_path):
    w = np.random.RandomState(0).randn(1, 10, 128).astype(np.float32)
    np.savez(tmp_path / "projected_w.npz", w=w)
    assert np.array_equal(load_latent(tmp_path / "projected_w.npz", num_ws=10, w_dim=128).numpy(), w)
    torch.save(torch.from_numpy(w[0]), tmp_path / "plain.pt")           # [num_ws, w_dim] tensor
    assert np.array_equal(load_latent(tmp_path / "plain.pt", num_ws=10, w_dim=128).numpy(), w)


@pytest.mark.parametrize("shape", [(128,), (1, 128)])
def test_single_w_row_broadcasts(tmp_path, shape):
    row = np.arange(128, dtype=np.float32).reshape(shape)
    np.save(tmp_path / "w.npy", row)
    ws = load_latent(tmp_path / "w.npy", num_ws=10, w_dim=128)
    assert ws.shape == (1, 10, 128)
    assert all(np.array_equal(ws[0, i].numpy(), row.reshape(-1)) for i in range(10))


def test_file_for_another_model_names_the_model_it_fits(tmp_path):
    np.savez(tmp_path / "w.npz", w=np.zeros((1, 18, 512), np.float32))
    with pytest.raises(LatentFileError) as err:
        load_latent(tmp_path / "w.npz", num_ws=10, w_dim=128)
    msg = str(err.value)
    assert "num_ws=18, w_dim=512" in msg and "1024 px StyleGAN2" in msg and "num_ws=10, w_dim=128" in msg
    assert "\n" not in msg
    np.save(tmp_path / "row.npy", np.zeros(512, np.float32))
    with pytest.raises(LatentFileError, match="w_dim=512; this model needs w_dim=128"):
        load_latent(tmp_path / "row.npy", num_ws=10, w_dim=128)
    assert "StyleGAN3" in describe_layout(16) and "512 px" in describe_layout(16)


def test_unreadable_files_get_clear_errors(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(LatentFileError, match="cannot read bad.npz"):
        load_latent(tmp_path / "bad.npz", num_ws=10, w_dim=128)
    with pytest.raises(LatentFileError, match="does not exist"):
        load_latent(tmp_path / "missing.npy", num_ws=10, w_dim=128)
    with pytest.raises(LatentFileError, match="unknown latent file type"):
        load_latent(tmp_path / "w.txt", num_ws=10, w_dim=128)
    np.savez(tmp_path / "two.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(LatentFileError, match="no array named 'w'"):
        load_latent(tmp_path / "two.npz", num_ws=10, w_dim=128)
    torch.save({"latent": torch.zeros(3)}, tmp_path / "d.pt")
    with pytest.raises(LatentFileError, match="without a 'w' entry"):
        load_latent(tmp_path / "d.pt", num_ws=10, w_dim=128)
