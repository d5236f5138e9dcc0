"""Conformance of every generator to the one ``Generator`` protocol: StyleGAN2 (orig, skip, resnet),
StyleGAN3 (T, R) and ``BlendedGenerator`` over each family answer the same attributes, take the same
calls, and raise the same exception for the same mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.blend.generator import BlendedGenerator
from engine.errors import NetblendError
from engine.models.build import FAMILIES, build_generator
from engine.models.generator import (
    PRECISIONS,
    Generator,
    GeneratorInputError,
    default_impl,
)
from engine.models.layers import LayerTable
from engine.models.loaders import save_generator
from engine.models.stylegan3 import stylegan3_kwargs
from tests.models.sg2_helpers import tiny_generator

CPU_IMPLS = ("ref", "fast")      # the others need CUDA (or the Triton interpreter): tests/ops covers them


def tiny_sg3(config: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_generator(stylegan3_kwargs(config, 16, z_dim=8, w_dim=16, channel_base=256, channel_max=16))


def sibling(G, seed: int):
    gen = torch.Generator().manual_seed(seed)
    fixed = set(G.layers.fixed)
    sd = {k: v if k in fixed or G.layers.kind_of(k) == "stat" else v + 0.1 * torch.randn(v.shape, generator=gen)
          for k, v in G.state_dict().items()}
    return build_generator(G.init_kwargs, sd)


MAKERS = {
    "sg2-orig": lambda: tiny_generator("orig"),
    "sg2-skip": lambda: tiny_generator("skip"),
    "sg2-resnet": lambda: tiny_generator("resnet"),
    "sg3-T": lambda: tiny_sg3("T"),
    "sg3-R": lambda: tiny_sg3("R"),
    "blend-sg2": lambda: BlendedGenerator([tiny_generator("skip"), sibling(tiny_generator("skip"), 1)]),
    "blend-sg3": lambda: BlendedGenerator([tiny_sg3("T"), sibling(tiny_sg3("T"), 1)]),
}
EXPECTED = {"sg2-orig": ("stylegan2", "orig"), "sg2-skip": ("stylegan2", "skip"),
            "sg2-resnet": ("stylegan2", "resnet"), "sg3-T": ("stylegan3", "T"), "sg3-R": ("stylegan3", "R"),
            "blend-sg2": ("stylegan2", "skip"), "blend-sg3": ("stylegan3", "T")}


@pytest.fixture(params=list(MAKERS))
def G(request):
    G = MAKERS[request.param]()
    G.expected = EXPECTED[request.param]   # what family and config it must report
    return G


def z_of(G, n: int = 2) -> np.ndarray:
    return np.random.RandomState(5).randn(n, G.z_dim)


def test_metadata_and_layer_table(G):
    assert isinstance(G, Generator)
    assert (G.family, G.config) == G.expected and G.family in FAMILIES
    for name in ("z_dim", "w_dim", "c_dim", "num_ws", "img_resolution", "img_channels"):
        assert isinstance(getattr(G, name), int), name
    assert (G.z_dim, G.w_dim, G.c_dim, G.img_resolution, G.img_channels) == (8, 16, 0, 16, 3)
    assert isinstance(G.layers, LayerTable) and len(G.layers) == G.num_ws
    assert G.num_parameters() > 0
    rebuilt = build_generator(G.init_kwargs, G.state_dict())      # init_kwargs are what the native format stores
    assert (rebuilt.family, rebuilt.config, rebuilt.num_ws) == (G.family, G.config, G.num_ws)
    with torch.inference_mode():
        assert torch.equal(rebuilt(z_of(G)), G(z_of(G)))


def test_mapping_synthesis_and_call_agree_and_never_mutate_the_model(G):
    before = {k: v.clone() for k, v in G.state_dict().items()}
    with torch.inference_mode():
        ws = G.mapping(z_of(G, 3), None, truncation_psi=0.7, truncation_cutoff=None)
        assert ws.shape == (3, G.num_ws, G.w_dim) and ws.dtype == torch.float32
        img = G.synthesis(ws, noise_mode="const", transform=None, noise_gain=1.0)
        assert img.shape == (3, G.img_channels, G.img_resolution, G.img_resolution)
        assert img.dtype == torch.float32 and img.is_contiguous()
        assert torch.equal(G(z_of(G, 3), None, 0.7, None, "const", None, 1.0), img)
        assert torch.equal(G.synthesis(ws.numpy()), G.synthesis(ws))          # numpy ws like numpy z
        for mode in ("random", "none"):
            assert G.synthesis(ws, noise_mode=mode).shape == img.shape
    for key, value in G.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_impl_is_settable_reaches_every_layer_and_keeps_parity(G):
    assert G.impl == default_impl("cpu")
    live = getattr(G, "live", G)
    images = {}
    for impl in CPU_IMPLS:
        G.impl = impl
        assert G.impl == impl
        assert {m.impl for m in live.modules() if "impl" in vars(m)} == {impl}
        with torch.inference_mode():
            images[impl] = G(z_of(G))
    ref = images["ref"]
    for impl, img in images.items():
        assert float((img - ref).abs().max()) <= 2e-5 * max(1.0, float(ref.abs().max())), impl


def test_precision_and_fp16_layers_are_settable(G):
    assert G.precision == "auto"
    for precision in PRECISIONS:
        G.precision = precision
        assert G.precision == precision
    default = G.num_fp16_res
    G.num_fp16_res = 2
    assert G.num_fp16_res == 2
    G.num_fp16_res = default
    assert G.num_fp16_res == default


MISTAKES = {
    "unknown impl": (lambda G: setattr(G, "impl", "warp-speed"), "impl 'warp-speed' is unknown; use one of"),
    "unknown precision": (lambda G: setattr(G, "precision", "fp8"), "precision 'fp8' is unknown; use one of"),
    "negative num_fp16_res": (lambda G: setattr(G, "num_fp16_res", -1), "num_fp16_res must be a whole number"),
    "ws rows": (lambda G: G.synthesis(torch.zeros(1, G.num_ws - 1, G.w_dim)), r"ws has shape \(1, \d+, 16\) but"),
    "ws width": (lambda G: G.synthesis(torch.zeros(1, G.num_ws, G.w_dim + 1)), r"ws has shape .* but this model"),
    "ws type": (lambda G: G.synthesis("ws"), "ws must be a numpy array or a torch tensor"),
    "noise mode": (lambda G: G.synthesis(G.mapping(z_of(G)), noise_mode="loud"), "noise_mode 'loud' is unknown"),
    "z shape": (lambda G: G.mapping(np.zeros((1, G.z_dim + 1))), r"z has shape \(1, 9\) but this model takes"),
    "label for an unconditional model": (lambda G: G(z_of(G), np.ones((2, 3))), r"c has shape \(2, 3\)"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_the_same_mistake_raises_the_same_exception(G, mistake):
    make, message = MISTAKES[mistake]
    impl, precision, fp16 = G.impl, G.precision, G.num_fp16_res
    with pytest.raises(GeneratorInputError, match=message) as raised:
        with torch.inference_mode():
            make(G)
    assert type(raised.value) is GeneratorInputError
    assert isinstance(raised.value, NetblendError) and isinstance(raised.value, ValueError)
    assert "\n" not in str(raised.value)
    assert (G.impl, G.precision, G.num_fp16_res) == (impl, precision, fp16)    # a refused setting changes nothing


def test_transform_mistakes():
    sg2, sg3 = tiny_generator("skip"), tiny_sg3("T")
    ws2, ws3 = sg2.mapping(z_of(sg2)), sg3.mapping(z_of(sg3))
    with pytest.raises(GeneratorInputError, match="StyleGAN2 has no input transform"):
        sg2.synthesis(ws2, transform=torch.eye(3))
    with pytest.raises(GeneratorInputError, match="transform must be a 3x3 matrix"):
        sg3.synthesis(ws3, transform=torch.eye(2))


def test_blended_generator_impl_follows_the_live_generator_on_both_families():
    """Regression: ``BlendedGenerator.impl`` raised a misleading AttributeError on StyleGAN3 and
    ``G.impl = 'fast'`` was silently ignored there."""
    for maker in (MAKERS["blend-sg2"], MAKERS["blend-sg3"]):
        B = maker()
        B.impl = "ref"
        assert B.impl == B.live.impl == "ref" == B.live.synthesis.impl
        B.impl = "fast"
        assert B.impl == "fast" and {m.impl for m in B.live.modules() if "impl" in vars(m)} == {"fast"}
        with pytest.raises(AttributeError, match="BlendedGenerator has no attribute 'colour'"):
            B.colour  # noqa: B018


def test_build_and_load_use_the_default_impl_unless_told(tmp_path):
    G = tiny_sg3("T")
    assert G.impl == default_impl("cpu") == "fast"
    assert build_generator(G.init_kwargs, G.state_dict(), impl="ref").impl == "ref"
    path = save_generator(G, tmp_path / "g.netblend.safetensors")
    assert engine.load_generator(path).impl == default_impl("cpu")


@pytest.mark.gpu
def test_default_impl_matches_ref_on_the_gpu(device):
    """The default impl on the device passes parity with 'ref' there (TF32 off, fp32)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for G in (tiny_generator("skip"), tiny_generator("resnet"), tiny_sg3("T"), tiny_sg3("R")):
        G = build_generator(G.init_kwargs, G.state_dict(), device=device)
        assert G.impl == default_impl(device)
        G.precision = "fp32"
        z = torch.from_numpy(z_of(G)).float().to(device)
        with torch.inference_mode():
            fast = G(z)
            G.impl = "ref"
            ref = G(z)
        assert float((fast - ref).abs().max()) <= 1e-4 * max(1.0, float(ref.abs().max())), (G.family, G.config)
