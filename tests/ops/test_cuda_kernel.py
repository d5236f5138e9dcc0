"""impl='cuda' without a GPU: the kernel's own code (host emulation, see ``cuda_emulation``) against
impl='ref' over the filtered_lrelu grid in fp32 and fp16; the op's errors, its shape function on a
fake CUDA device, and the build rules (no torch headers in the .cu, nothing built on import)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from stylegan_ops import filtered_lrelu, setup_filter
from stylegan_ops.backends import OpUnavailableError
from stylegan_ops.benchmark import sg3_layers
from stylegan_ops.cuda import SOURCES
from stylegan_ops.filtered_lrelu import output_shape
from tests.ops.cuda_emulation import build_host_library, filtered_lrelu_emulated, nvcc
from tests.ops.host_sync import count_host_syncs, cuda_like, fake_cuda
from tests.ops.naive import assert_close

FP16_RTOL = 4e-3


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    if nvcc() is None:
        pytest.skip("nvcc (the CUDA toolkit) is not installed")
    return build_host_library(tmp_path_factory.mktemp("cuda-emulation"))


def _compare(kernel, x, fu, fd, b, up, down, pad, gain=math.sqrt(2), slope=0.2, clamp=None, flip=False):
    for dtype, rtol in ((torch.float32, 1e-5), (torch.float16, FP16_RTOL)):
        xd = x.to(dtype)
        out = filtered_lrelu_emulated(kernel, xd, fu, fd, b, up, down, pad, gain, slope, clamp, flip)
        ref = filtered_lrelu(xd.float(), fu, fd, b, up=up, down=down, padding=pad, gain=gain, slope=slope,
                             clamp=clamp, flip_filter=flip)  # fp32 math on the same (rounded) input
        assert out.dtype == dtype
        assert_close(out.float(), ref.float(), rtol)


@pytest.mark.parametrize("up,down", [(1, 1), (2, 2), (2, 1), (1, 2), (4, 2), (2, 4), (4, 4)])
@pytest.mark.parametrize("two_d", [False, True])
def test_cuda_kernel_code_matches_ref(kernel, up, down, two_d):
    gen = torch.Generator().manual_seed(up * 10 + down + two_d)
    x = torch.randn(2, 3, 9, 7, generator=gen) * 2  # [N, C, H, W], non-square
    b = torch.randn(3, generator=gen)
    activations = [(math.sqrt(2), 0.2, None), (1.0, 1.0, None), (2.0, 0.1, 0.7)]
    checked = 0
    for i, (fu_taps, fd_taps, pad) in enumerate(itertools.product(
            [0, 5, 6 * up] if up > 1 else [0, 3], [0, 4, 6 * down + 1] if down > 1 else [0, 3],
            [(0, 0, 0, 0), (5, 4, 6, 3), (-1, 3, 2, -2)])):

        def make(taps):
            if taps == 0:
                return None
            g = torch.rand(taps, taps, generator=gen) if two_d else torch.rand(taps, generator=gen) + 0.2
            return setup_filter(g + g.t() if two_d else g, separable=not two_d)

        fu, fd = make(fu_taps), make(fd_taps)
        if min(output_shape(tuple(x.shape), fu, fd, up, down, pad)) < 1 or 9 * up + pad[2] + pad[3] < max(fu_taps, 1):
            continue
        gain, slope, clamp = activations[i % 3]
        _compare(kernel, x, fu, fd, b, up, down, pad, gain, slope, clamp, flip=i % 2 == 1)
        checked += 1
    assert checked >= 10


def test_cuda_kernel_code_on_stylegan3_layers_and_channels_last(kernel):
    gen = torch.Generator().manual_seed(5)
    for layer in sg3_layers(256, channel_base=256, channel_max=2):
        size = layer.in_size + layer.kernel - 1
        x = torch.randn(1, layer.out_channels, size, size, generator=gen)
        if layer.up == 2:
            x = x.contiguous(memory_format=torch.channels_last)
        fu, fd = (setup_filter(torch.rand(t, generator=gen), separable=True) if t > 1 else None
                  for t in (layer.up_taps, layer.down_taps))
        b = torch.randn(layer.out_channels, generator=gen)
        gain, slope = (1.0, 1.0) if layer.kernel == 1 else (math.sqrt(2), 0.2)
        _compare(kernel, x, fu, fd, b, layer.up, layer.down, layer.padding, gain, slope, 256.0)


def test_impl_cuda_is_a_one_line_error_without_cuda():
    with pytest.raises(OpUnavailableError, match="impl='cuda' runs on CUDA tensors"):
        filtered_lrelu(torch.zeros(1, 2, 8, 8), impl="cuda")


def test_impl_cuda_runs_its_shape_function_on_a_fake_cuda_device():
    fu = setup_filter(torch.rand(12), separable=True)
    x = torch.zeros(1, 4, 40, 40)
    with fake_cuda() as mode:
        with count_host_syncs() as syncs:
            out = filtered_lrelu(cuda_like(mode, x), cuda_like(mode, fu), cuda_like(mode, fu),
                                 cuda_like(mode, torch.zeros(4)), up=2, down=2, padding=10, clamp=256, impl="cuda")
    assert out.shape == output_shape(tuple(x.shape), fu, fu, 2, 2, 10) and out.device.type == "cuda"
    assert syncs == []


def test_kernel_source_avoids_torch_headers():
    """Only binding.cpp may include torch; the .cu builds in seconds without it."""
    cu = [s for s in SOURCES if s.suffix == ".cu"]
    assert cu and all("#include <torch" not in s.read_text() and "#include <ATen" not in s.read_text() for s in cu)
