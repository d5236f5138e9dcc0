"""impl='triton' against impl='ref' in Triton's interpreter (CPU tensors, TRITON_INTERPRET=1), over the
argument grids of the other op tests at tiny sizes, and compiled for sm_90 with no GPU.

Tolerances: fp32 as the 'ref' tests (1e-5 of the output's range, at least 1); fp16: the kernel's fp16
result against 'ref' in fp32 on the same fp16-rounded input, 4e-3 of the range (fp16's epsilon is
9.8e-4; the fused filtered_lrelu multiplies fp16 operands, with fp32 accumulation).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from stylegan_ops import bias_act, filtered_lrelu, setup_filter, upfirdn2d
from stylegan_ops.backends import OpUnavailableError
from stylegan_ops.filtered_lrelu import output_shape
from tests.ops.host_sync import count_host_syncs, cuda_like, fake_cuda
from tests.ops.naive import assert_close
from tests.ops.op_calls import op_calls
from tests.ops.test_upfirdn2d import FILTERS, PADDINGS, SCALINGS

pytest.importorskip("triton")
FP16_RTOL = 4e-3


@pytest.fixture(autouse=True)
def _interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def _both_dtypes(op, x, *args, half=True, **kwargs):
    """``op(x, ...)`` of impl 'triton' against 'ref' in fp32, on fp32 inputs, then (``half``) fp16 ones."""
    for dtype, rtol in ((torch.float32, 1e-5), (torch.float16, FP16_RTOL))[:2 if half else 1]:
        out = op(x.to(dtype), *args, impl="triton", **kwargs)
        assert out.dtype == dtype
        assert_close(out.float(), op(x.to(dtype).float(), *args, impl="ref", **kwargs), rtol)


@pytest.mark.parametrize("fname", list(FILTERS))
@pytest.mark.parametrize("up", SCALINGS)
def test_upfirdn2d_triton_matches_ref(fname, up):
    f = FILTERS[fname]
    x = torch.randn(1, 2, 7, 10, generator=torch.Generator().manual_seed(0))
    combos = list(itertools.product(SCALINGS, PADDINGS, [False, True], [1.0, 3.0]))
    checked = 0
    for i, (down, pad, flip, gain) in enumerate(combos[SCALINGS.index(up)::19]):  # downs, paddings, flips, gains
        fw, fh = (1, 1) if f is None else (f.shape[-1], f.shape[0])
        if x.shape[3] * up[0] + pad[0] + pad[1] < fw or x.shape[2] * up[1] + pad[2] + pad[3] < fh:
            continue
        _both_dtypes(upfirdn2d, x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=gain, half=i % 2 == 0)
        checked += 1
    assert checked >= 3


def test_upfirdn2d_triton_splits_a_rank1_2d_filter_and_keeps_channels_last():
    f = setup_filter([1, 3, 3, 1])  # 4x4 rank 1: two 1-D passes
    x = torch.randn(1, 3, 6, 5).contiguous(memory_format=torch.channels_last)
    out = upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), impl="triton")
    assert_close(out, upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1)))


@pytest.mark.parametrize("act", ["linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish"])
def test_bias_act_triton_matches_ref(act):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 4, 5, generator=gen) * 3
    for dim, (alpha, gain, clamp) in zip((0, 1, 3, -1), [(None, None, None), (0.1, 0.5, None), (None, 2.0, 1.5),
                                                          (0.3, None, 0.0)]):
        b = torch.randn(x.shape[dim], generator=gen)
        _both_dtypes(bias_act, x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)
    xl = x.contiguous(memory_format=torch.channels_last)
    out = bias_act(xl, b[:3] if b.numel() >= 3 else torch.ones(3), act=act, impl="triton")
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert_close(out, bias_act(xl, b[:3] if b.numel() >= 3 else torch.ones(3), act=act))


def _filter(taps, two_d, gen):
    if taps == 0:
        return None
    f = torch.rand(taps, generator=gen) + 0.2
    if not two_d:
        return setup_filter(f, separable=True)
    g = torch.rand(taps, taps, generator=gen)
    return setup_filter(g + g.t())  # symmetric, full rank: the radial case


@pytest.mark.parametrize("up,down", [(1, 1), (2, 2), (2, 1), (1, 2), (4, 2), (2, 4), (4, 4)])
@pytest.mark.parametrize("two_d", [False, True])
def test_filtered_lrelu_triton_matches_ref(up, down, two_d):
    gen = torch.Generator().manual_seed(up * 10 + down + two_d)
    x = torch.randn(1, 2, 9, 7, generator=gen) * 2
    b = torch.randn(2, generator=gen)
    activations = [(math.sqrt(2), 0.2, None), (1.0, 1.0, None), (2.0, 0.1, 0.7)]
    checked = 0
    for i, (fu_taps, fd_taps) in enumerate(itertools.product([0, 6 * up] if up > 1 else [0, 3],
                                                             [0, 6 * down + 1] if down > 1 else [3])):
        pad, flip, (gain, slope, clamp) = [(5, 4, 6, 3), (-1, 3, 2, -2)][i % 2], i % 2 == 1, activations[i % 3]
        fu, fd = _filter(fu_taps, two_d, gen), _filter(fd_taps, two_d, gen)
        if min(output_shape(tuple(x.shape), fu, fd, up, down, pad)) < 1 or 9 * up + pad[2] + pad[3] < max(fu_taps, 1):
            continue
        _both_dtypes(filtered_lrelu, x, fu, fd, b, up=up, down=down, padding=pad, gain=gain, slope=slope, clamp=clamp,
                     flip_filter=flip, half=i != 1)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("in_size,out_size,up,down", [(36, 36, 2, 2), (36, 52, 4, 2), (52, 64, 2, 1)])
def test_filtered_lrelu_triton_on_stylegan3_layer_geometry(in_size, out_size, up, down):
    gen = torch.Generator().manual_seed(7)
    up_taps, down_taps = 6 * up, 6 * down if down > 1 else 1
    fu = setup_filter(torch.rand(up_taps, generator=gen), separable=True)
    fd = setup_filter(torch.rand(down_taps, generator=gen), separable=True) if down > 1 else None
    x = torch.randn(1, 1, in_size + 2, in_size + 2, generator=gen)
    total = (out_size - 1) * down + 1 - (in_size + 2) * up + up_taps + down_taps - 2
    lo = (total + up) // 2
    pad = [lo, total - lo, lo, total - lo]
    b = torch.randn(1, generator=gen)
    _both_dtypes(filtered_lrelu, x, fu, fd, b, up=up, down=down, padding=pad, clamp=256)


def test_triton_ops_trace_as_one_graph_and_run_on_a_fake_cuda_device():
    calls = op_calls(size=8)
    wanted = ["upsample2d", "bias_act", "filtered_lrelu_radial"]
    for name in wanted:
        calls[name]("triton")  # warm-up: filters seen once
        torch._dynamo.reset()
        explained = torch._dynamo.explain(calls[name])("triton")
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), name
    with fake_cuda() as mode:
        fake = op_calls(lambda t: cuda_like(mode, t), size=8)
        with count_host_syncs() as syncs:
            for name in wanted:
                assert fake[name]("triton").device == torch.device("cuda", 0)
    assert syncs == []


def test_triton_without_a_cuda_device_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET")
    with pytest.raises(OpUnavailableError, match="runs on CUDA tensors, not cpu; use impl='fast'"):
        bias_act(torch.zeros(1, 2, 3, 3), impl="triton")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_kernels_compile_for_sm90_without_a_gpu(dtype, monkeypatch, tmp_path):
    """Triton's ahead-of-time compile: each kernel of a StyleGAN3 layer to a cubin for sm_90."""
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))  # compile for real, not from an earlier run's cache
    from stylegan_ops import triton_kernels as tk
    from stylegan_ops.filters import remember_filter

    x = torch.zeros(1, 4, 38, 38, dtype=dtype)
    b = torch.zeros(4)
    fu = setup_filter(torch.rand(12), separable=True)
    radial = remember_filter(setup_filter(torch.outer(torch.rand(12), torch.rand(12)) + torch.outer(torch.rand(12),
                                                                                                 torch.rand(12))))
    out = torch.zeros(1, 4, 36, 36, dtype=dtype)
    taps = fu[None]
    launches = [
        tk.plan_bias_act(x, b, x, 4, 38 * 38, "lrelu", 0.2, math.sqrt(2), 256.0),
        tk.plan_upfirdn_pass(x, fu, out, 1, 12, (2, 1), (2, 1), (5, 5, 0, 0), False, 1.0),
        tk.plan_filtered_lrelu(x, b, (taps, taps), (taps, taps), out, 2, 2, (10, 10, 10, 10), math.sqrt(2), 0.2,
                               256.0, False),
        tk.plan_filtered_lrelu(x, b, (taps, taps), (radial.cols, radial.rows), out, 2, 2, (10, 10, 10, 10),
                               math.sqrt(2), 0.2, 256.0, False),
    ]
    for launch in launches:
        compiled = tk.compile_ahead(launch, capability=90)
        assert compiled.asm["cubin"][:4] == b"\x7fELF", launch.kernel.jit.fn.__name__
        assert ".target sm_90" in compiled.asm["ptx"]
