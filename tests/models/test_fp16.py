"""fp16 layers of both families: the half-precision branches (run on the CPU here, slowly, so the
models are tiny) stay within the documented tolerance of the float32 reference, ``precision``
selects them, ``num_fp16_res`` follows the official rule, and CUDA parity runs where there is a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.blend.generator import BlendedGenerator
from engine.models.build import build_generator
from engine.models.generator import FP16_TOLERANCE
from engine.models.stylegan3 import stylegan3_kwargs
from engine.models.stylegan3_layers import derive_layout
from tests.models.sg2_helpers import tiny_generator


def tiny_sg3(config: str, resolution: int = 16, **kwargs):
    torch.manual_seed(0)
    return build_generator(stylegan3_kwargs(config, resolution, z_dim=8, w_dim=16, channel_base=256,
                                            channel_max=16) | kwargs)


MAKERS = {
    "sg2-orig": lambda: tiny_generator("orig", num_fp16_res=2),
    "sg2-skip": lambda: tiny_generator("skip", num_fp16_res=2),
    "sg2-resnet": lambda: tiny_generator("resnet", c_dim=2, num_fp16_res=2),
    "sg3-T": lambda: tiny_sg3("T", 32, num_fp16_res=1),      # 32 px: sampling rates 16 (fp32) and 32 (fp16)
    "sg3-R": lambda: tiny_sg3("R", 32, num_fp16_res=1, channel_base=256, channel_max=16),
}


def fp16_modules(G):
    """(module, is an fp16 layer) for every convolution layer of the synthesis network."""
    if G.family == "stylegan2":
        return [(layer, block.use_fp16) for block in G.synthesis.blocks()
                for layer in (getattr(block, "conv0", None), block.conv1) if layer is not None]
    return [(getattr(G.synthesis, name), getattr(G.synthesis, name).use_fp16) for name in G.synthesis.layer_names]


def render(G, **kwargs):
    c = np.eye(2)[:1] if G.c_dim else None
    with torch.inference_mode():
        return G(np.random.RandomState(1).randn(1, G.z_dim), c, truncation_psi=0.7, **kwargs)


def output_dtypes(G, **kwargs) -> list[tuple[bool, torch.dtype]]:
    seen = []
    handles = [module.register_forward_hook(lambda m, i, out, f=fp16: seen.append((f, out.dtype)))
               for module, fp16 in fp16_modules(G)]
    try:
        image = render(G, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    assert image.dtype == torch.float32
    return seen


@pytest.fixture(params=list(MAKERS))
def G(request):
    return MAKERS[request.param]()


def test_fp16_layers_compute_in_half_and_stay_within_the_documented_tolerance(G):
    G.precision = "fp32"
    reference = render(G)
    assert {dtype for _, dtype in output_dtypes(G)} == {torch.float32}
    G.precision = "fp16"
    dtypes = output_dtypes(G)
    assert any(fp16 for fp16, _ in dtypes) and not all(fp16 for fp16, _ in dtypes)   # a mixed model
    assert all(dtype == (torch.float16 if fp16 else torch.float32) for fp16, dtype in dtypes)
    half = render(G)
    error = float((half - reference).abs().max())
    assert 0 < error <= FP16_TOLERANCE * float(reference.abs().max())
    assert torch.equal(render(G, force_fp32=True), reference)           # force_fp32 wins for one call


def test_auto_precision_stays_float32_off_cuda_and_no_fp16_layers_means_float32(G):
    G.precision = "fp32"
    reference = render(G)
    G.precision = "auto"                                  # the default: CPU (and MPS) stay float32
    assert torch.equal(render(G), reference)
    G.precision = "fp16"
    G.num_fp16_res = 0
    assert not any(fp16 for _, fp16 in fp16_modules(G))
    assert torch.equal(render(G), reference)


def test_num_fp16_res_follows_the_official_rule():
    G = tiny_generator("skip", resolution=32)
    for n, expected in ((0, []), (1, [32]), (2, [16, 32]), (3, [8, 16, 32]), (4, [8, 16, 32]), (9, [8, 16, 32])):
        G.num_fp16_res = n                                # never below 8x8, as the official code does
        assert [b.resolution for b in G.synthesis.blocks() if b.use_fp16] == expected, n
    S = tiny_sg3("T", 32)
    assert S.num_fp16_res == 4
    for n in (0, 1, 2, 4):
        S.num_fp16_res = n
        layout = derive_layout(32, 3, channel_base=256, channel_max=16, num_fp16_res=n)
        assert [getattr(S.synthesis, s.name).use_fp16 for s in layout.layers] == [s.use_fp16 for s in layout.layers]


def test_blended_generator_passes_precision_to_its_live_generator():
    A = tiny_generator("skip", num_fp16_res=2)
    B = BlendedGenerator([A, tiny_generator("skip", num_fp16_res=2, seed=3)])
    B.precision, B.num_fp16_res = "fp16", 1
    assert (B.live.precision, B.live.num_fp16_res) == ("fp16", 1)
    A.precision, A.num_fp16_res = "fp16", 1
    assert torch.equal(render(B), render(A))


@pytest.mark.gpu
def test_cuda_fp16_matches_the_cpu_float32_reference_within_the_tolerance(device):
    """TF32 off; fp32 on the GPU equals the CPU; fp16 (the default 'auto' on CUDA) stays within
    FP16_TOLERANCE; MPS renders float32 under 'auto'."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for make in MAKERS.values():
        G = make()
        G.precision = "fp32"
        reference = render(G)
        G = build_generator(G.init_kwargs, G.state_dict(), device=device)
        G.precision = "fp32"
        fp32 = render(G).cpu()
        assert float((fp32 - reference).abs().max()) <= 1e-4 * max(1.0, float(reference.abs().max()))
        G.precision = "auto"
        dtypes = {dtype for fp16, dtype in output_dtypes(G) if fp16}
        assert dtypes == ({torch.float16} if device == "cuda" else {torch.float32})
        if device == "cuda":
            half = render(G).cpu()
            assert float((half - reference).abs().max()) <= FP16_TOLERANCE * float(reference.abs().max())
