"""The compiled Triton kernels and the CUDA extension against impl='ref' on a real GPU, over the full
argument grids of the op tests and full-size StyleGAN3 layers (run with ``pytest -m gpu --require-gpu``).

fp32 with TF32 disabled (the reference's cuDNN convolutions would otherwise round to 10 bits): 1e-5 of
the output's range, like the CPU tests. fp16: the kernel's fp16 result against 'ref' in fp32 on the
same fp16-rounded input, 4e-3 of the range (fp16 epsilon 9.8e-4).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from stylegan_ops import bias_act, filtered_lrelu, setup_filter, upfirdn2d
from stylegan_ops.benchmark import sg3_layers
from stylegan_ops.filtered_lrelu import output_shape
from tests.ops.naive import assert_close
from tests.ops.test_upfirdn2d import FILTERS, PADDINGS, SCALINGS

pytestmark = pytest.mark.gpu
FP16_RTOL = 4e-3


@pytest.fixture
def cuda(device):
    """The CUDA device with TF32 off for exact fp32 parity (restored afterwards)."""
    if device != "cuda":
        pytest.skip("Triton and the CUDA extension need a CUDA device (this GPU is MPS)")
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(scope="module")
def kernel_impls() -> list[str]:
    """The kernel impls this GPU machine can run: 'triton' when triton imports, 'cuda' once the extension
    builds (or loads; minutes the first time). A machine without nvcc cannot build 'cuda': that is a
    missing toolchain, not a missing GPU, so it is skipped with the reason rather than failed."""
    impls = []
    try:
        import triton  # noqa: F401

        impls.append("triton")
    except ImportError:
        pass
    from torch.utils.cpp_extension import CUDA_HOME

    if CUDA_HOME is not None and (Path(CUDA_HOME) / "bin" / "nvcc").exists():
        from stylegan_ops.cuda import build

        build()
        impls.append("cuda")
    if not impls:
        pytest.skip("neither triton nor nvcc on this GPU machine: no kernel impl to test")
    return impls


def _compare(op, x, *args, impls, **kwargs):
    """Each impl against 'ref' in fp32 on the same input values (fp16 inputs: rounded, then widened)."""
    for dtype, rtol in ((torch.float32, 1e-5), (torch.float16, FP16_RTOL)):
        ref = op(x.to(dtype).float(), *args, impl="ref", **kwargs)
        for impl in impls:
            out = op(x.to(dtype), *args, impl=impl, **kwargs)
            assert out.dtype == dtype, impl
            assert_close(out.float(), ref, rtol)


@pytest.mark.parametrize("size", [(7, 10), (32, 33), (128, 96)])
def test_upfirdn2d_triton_full_grid(cuda, size):
    pytest.importorskip("triton")
    x = torch.randn(2, 3, *size, device=cuda)
    for fname, up, down, pad, flip, gain in itertools.product(FILTERS, SCALINGS, SCALINGS, PADDINGS, [False, True],
                                                              [1.0, 3.0]):
        f = None if FILTERS[fname] is None else FILTERS[fname].to(cuda)
        fw, fh = (1, 1) if f is None else (f.shape[-1], f.shape[0])
        if size[1] * up[0] + pad[0] + pad[1] < fw or size[0] * up[1] + pad[2] + pad[3] < fh:
            continue
        _compare(upfirdn2d, x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=gain, impls=["triton"])


def test_bias_act_triton_full_grid(cuda):
    pytest.importorskip("triton")
    x = torch.randn(4, 64, 33, 65, device=cuda) * 3
    for act, dim in itertools.product(["linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus",
                                       "swish"], [0, 1, 3]):
        b = torch.randn(x.shape[dim], device=cuda)
        _compare(bias_act, x, b, dim=dim, act=act, clamp=2.5, impls=["triton"])
    xl = x.contiguous(memory_format=torch.channels_last)
    _compare(bias_act, xl, torch.randn(64, device=cuda), act="lrelu", clamp=256, impls=["triton"])


@pytest.mark.parametrize("up,down", [(1, 1), (2, 2), (2, 1), (1, 2), (4, 2), (2, 4), (4, 4)])
@pytest.mark.parametrize("two_d", [False, True])
def test_filtered_lrelu_kernels_full_grid(cuda, kernel_impls, up, down, two_d):
    gen = torch.Generator().manual_seed(up * 10 + down + two_d)
    x = (torch.randn(2, 3, 19, 17, generator=gen) * 2).to(cuda)
    b = torch.randn(3, generator=gen).to(cuda)
    for i, (fu_taps, fd_taps, pad) in enumerate(itertools.product(
            [0, 5, 6 * up] if up > 1 else [0, 3], [0, 4, 6 * down + 1] if down > 1 else [0, 3],
            [(0, 0, 0, 0), (5, 4, 6, 3), (-1, 3, 2, -2)])):
        gain, slope, clamp = [(math.sqrt(2), 0.2, None), (1.0, 1.0, None), (2.0, 0.1, 0.7)][i % 3]

        def make(taps):  # 2-D: rank 2 (real radial filters are rank 5-6; each rank is a Triton variant)
            if taps == 0:
                return None
            if not two_d:
                return setup_filter(torch.rand(taps, generator=gen) + 0.2, separable=True).to(cuda)
            g = sum(torch.outer(torch.rand(taps, generator=gen), torch.rand(taps, generator=gen)) for _ in range(2))
            return setup_filter(g).to(cuda)

        fu, fd = make(fu_taps), make(fd_taps)
        if min(output_shape(tuple(x.shape), fu, fd, up, down, pad)) < 1 or 19 * up + pad[2] + pad[3] < max(fu_taps, 1):
            continue
        _compare(filtered_lrelu, x, fu, fd, b, up=up, down=down, padding=pad, gain=gain, slope=slope, clamp=clamp,
                 flip_filter=i % 2 == 1, impls=kernel_impls)


@pytest.mark.parametrize("resolution", [256, 1024])
def test_filtered_lrelu_kernels_on_full_size_stylegan3_layers(cuda, kernel_impls, resolution):
    """Every layer of StyleGAN3-T at its official geometry (channels capped at 64 to bound memory)."""
    gen = torch.Generator().manual_seed(resolution)
    for layer in sg3_layers(resolution, channel_max=64):
        size = layer.in_size + layer.kernel - 1
        x = torch.randn(1, layer.out_channels, size, size, generator=gen).to(cuda)
        fu, fd = (setup_filter(torch.rand(t, generator=gen), cuda, separable=True) if t > 1 else None
                  for t in (layer.up_taps, layer.down_taps))
        b = torch.randn(layer.out_channels, generator=gen).to(cuda)
        gain, slope = (1.0, 1.0) if layer.kernel == 1 else (math.sqrt(2), 0.2)
        _compare(filtered_lrelu, x, fu, fd, b, up=layer.up, down=layer.down, padding=layer.padding, gain=gain,
                 slope=slope, clamp=256, impls=kernel_impls)


def test_kernels_make_no_host_sync_and_replay_in_a_cuda_graph(cuda, kernel_impls):
    """torch.cuda's sync debug mode errors on any sync; a captured graph replays with new input values."""
    fu = setup_filter(torch.rand(12), cuda, separable=True)
    b = torch.randn(8, device=cuda)
    x = torch.randn(1, 8, 40, 40, device=cuda)
    for impl in kernel_impls:
        call = lambda impl=impl: filtered_lrelu(x, fu, fu, b, up=2, down=2, padding=10, clamp=256, impl=impl)  # noqa: E731
        call()  # warm-up: filters read once, kernels compiled / loaded
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            call()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = call()
        x.copy_(torch.randn_like(x))
        graph.replay()
        torch.cuda.synchronize()
        assert_close(out, filtered_lrelu(x, fu, fu, b, up=2, down=2, padding=10, clamp=256, impl="ref"))
