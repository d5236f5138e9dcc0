"""--fit fit|fill|stretch: the model's square image in any output size, on the device, pixel-checked."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.core.clock import FrameTime
from engine.show.build import build_renderer
from engine.show.catalog import build_registry
from engine.show.fit import FrameFit, placement
from engine.show.render import image_to_rgba
from tests.helpers import tiny_pair


def image(size=32, seed=0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, size, size, generator=gen) * 2.2 - 1.1          # a little past [-1, 1] too


def reference(img: torch.Tensor, h: int, w: int) -> np.ndarray:
    """The old path: torch's antialiased bilinear resize, then the uint8 conversion."""
    resized = F.interpolate(img, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return image_to_rgba(resized, torch.full((h, w, 4), 255, dtype=torch.uint8)).numpy()


def fitted(img: torch.Tensor, w: int, h: int, mode: str) -> np.ndarray:
    rgba = torch.empty((h, w, 4), dtype=torch.uint8)
    return FrameFit((img.shape[-1], img.shape[-2]), rgba, mode)(img).numpy().copy()


def close(a: np.ndarray, b: np.ndarray) -> None:
    """Equal to the reference: the same resampling kernel, written into preallocated buffers."""
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() == 0, (diff.max(), (diff == 0).mean())


def test_placements_for_a_square_image_in_a_wide_frame():
    assert placement(32, 32, 64, 36, "fit").dst == (14, 0, 36, 36)          # pillarbox, centred
    assert placement(32, 32, 64, 36, "fill").src == (0, 7, 32, 18)          # centre band of the image
    assert placement(32, 32, 64, 36, "stretch").dst == (0, 0, 64, 36)
    assert placement(32, 32, 36, 64, "fit").dst == (0, 14, 36, 36)          # letterbox in a tall frame
    with pytest.raises(ValueError, match="choose fit, fill, stretch"):
        placement(32, 32, 64, 36, "zoom")


def test_fit_letterboxes_with_black_bars_and_centres_the_whole_image():
    img = image()
    out = fitted(img, 64, 32, "fit")                                          # 32x32 in 64x32: no scaling
    assert (out[:, :16, :3] == 0).all() and (out[:, 48:, :3] == 0).all()     # black bars, both sides
    assert (out[..., 3] == 255).all()
    assert np.array_equal(out[:, 16:48], reference(img, 32, 32))              # the image itself, untouched
    scaled = fitted(img, 60, 24, "fit")                                       # scaled down into 24x24
    assert (scaled[:, :18, :3] == 0).all() and (scaled[:, 42:, :3] == 0).all()
    close(scaled[:, 18:42], reference(img, 24, 24))


def test_fill_crops_the_centre_and_covers_the_frame():
    img = image()
    out = fitted(img, 64, 32, "fill")
    close(out, reference(img[:, :, 8:24, :], 32, 64))                        # rows 8..23 of the image, 2x
    assert out[..., :3].max(axis=(0, 1)).min() > 0                           # no black bars anywhere
    tall = fitted(img, 20, 40, "fill")
    close(tall, reference(img[:, :, :, 8:24], 40, 20))


def test_stretch_equals_the_old_behaviour():
    img = image(seed=3)
    close(fitted(img, 64, 36, "stretch"), reference(img, 36, 64))
    close(fitted(img, 20, 12, "stretch"), reference(img, 12, 20))            # strong downscale: antialiased


def test_the_per_frame_fit_allocates_nothing():
    img = image()
    rgba = torch.empty((36, 64, 4), dtype=torch.uint8)
    fit = FrameFit((32, 32), rgba, "fill")
    fit(img)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        fit(img)
    allocated = [e for e in prof.events() if e.name == "[memory]" and e.cpu_memory_usage > 0]
    assert allocated == [], [(e.cpu_memory_usage, e.name) for e in allocated]
    assert fit(img).data_ptr() == rgba.data_ptr()


@pytest.mark.parametrize("mode", ["fit", "fill", "stretch"])
def test_the_renderer_fits_every_frame_into_the_output_size(mode):
    values_of = {}
    for size in (None, (64, 32)):
        renderer = build_renderer(tiny_pair(), torch.device("cpu"), size=size, fit=mode)
        values = build_registry(renderer.blended).targets()
        values_of[size] = renderer.render(values, FrameTime(0, 0.0, 0.0, 0.0, 120.0)).numpy().copy()
    square, wide = values_of[None], values_of[(64, 32)]
    assert wide.shape == (32, 64, 4)
    if mode == "fit":
        assert np.array_equal(wide[:, 16:48], square) and (wide[:, :16, :3] == 0).all()
    elif mode == "fill":
        assert wide[..., :3].std() > 5 and wide[:, :2, :3].max() > 0
    else:
        rendered = torch.from_numpy(square[..., :3]).permute(2, 0, 1)[None].float()
        assert np.abs(wide[..., :3].astype(int)
                      - F.interpolate(rendered, size=(32, 64), mode="bilinear").round().permute(0, 2, 3, 1)[0]
                      .numpy().astype(int)).mean() < 3


def test_a_device_without_the_antialiased_kernel_falls_back_to_plain_bilinear(monkeypatch, caplog):
    from engine.show import fit as fit_module

    def missing(src, out):
        raise NotImplementedError("aten::_upsample_bilinear2d_aa.out is not implemented for this device")

    monkeypatch.setattr(fit_module, "_resize_into", missing)
    img = image()
    out = fitted(img, 48, 48, "stretch")
    assert "using plain bilinear" in caplog.text
    plain = F.interpolate(img, size=(48, 48), mode="bilinear", align_corners=False)
    assert np.array_equal(out, image_to_rgba(plain, torch.full((48, 48, 4), 255, dtype=torch.uint8)).numpy())
