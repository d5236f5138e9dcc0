"""Every op's per-call path makes no host sync and no graph break (issue 13, finding 1: the rank-1
filter check of 'fast' upfirdn2d made ~36 syncs and 27 graph breaks per 1024 px frame)."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

from stylegan_ops import setup_filter, upfirdn2d, upsample2d
from stylegan_ops.filters import is_rank1, known_facts, remember_filter
from tests.ops.host_sync import count_host_syncs, cuda_like, fake_cuda
from tests.ops.naive import assert_close, naive_upfirdn2d
from tests.ops.op_calls import op_calls

CPU_IMPLS = ["ref", "fast"]


@pytest.mark.parametrize("impl", CPU_IMPLS)
def test_no_op_syncs_on_a_fake_cuda_device(impl):
    """FakeTensorMode on cuda:0: every call runs (shapes, devices) and none reads a value on the host."""
    with fake_cuda() as mode:
        calls = op_calls(lambda t: cuda_like(mode, t))
        with count_host_syncs() as syncs:
            for name, call in calls.items():
                out = call(impl)
                assert out.device == torch.device("cuda", 0), name
    assert syncs == []


@pytest.mark.parametrize("impl", CPU_IMPLS)
def test_steady_state_calls_read_nothing_on_the_host(impl):
    """Real tensors: after one warm-up call per op (where a filter's shape is read once), none."""
    calls = op_calls()
    for call in calls.values():
        call(impl)
    with count_host_syncs() as syncs:
        for call in calls.values():
            call(impl)
    assert syncs == []


def test_the_sync_counter_sees_a_filter_read():
    """The counter is not blind: a filter never seen before is read on the host exactly once."""
    f = setup_filter([1, 3, 3, 1])
    x = torch.randn(1, 2, 32, 32)
    with count_host_syncs() as first:
        upsample2d(x, f, impl="fast")
    with count_host_syncs() as second:
        upsample2d(x, f, impl="fast")
    assert first and all("filters.py" in s for s in first), first
    assert second == []


@pytest.mark.parametrize("impl", CPU_IMPLS)
@pytest.mark.parametrize("name", list(op_calls()))
def test_each_op_traces_as_one_graph(impl, name):
    call = op_calls()[name]
    call(impl)  # warm-up: filters seen once
    torch._dynamo.reset()
    explained = torch._dynamo.explain(call)(impl)
    reasons = [str(b.reason).splitlines()[0] for b in explained.break_reasons]
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), reasons


def test_filter_facts_are_read_once_and_follow_in_place_writes():
    f = setup_filter([1, 3, 3, 1])
    assert is_rank1(f) and remember_filter(f) is remember_filter(f)
    radial = setup_filter(torch.tensor([[1.0, 2, 1], [2, 5, 2], [1, 2, 1]]))
    facts = remember_filter(radial)
    assert not facts.rank1 and facts.cols.shape[0] == 2  # rank 2: two outer products reproduce it
    rebuilt = torch.einsum("rh,rw->hw", facts.cols, facts.rows)
    torch.testing.assert_close(rebuilt, radial, rtol=0, atol=1e-7)
    x = torch.randn(1, 2, 32, 32)
    g = setup_filter([1, 2, 1])  # rank 1 first ...
    upfirdn2d(x, g, padding=1, impl="fast")
    g.copy_(radial)  # ... then overwritten in place (load_state_dict does this)
    assert not is_rank1(g)
    assert_close(upfirdn2d(x, g, padding=1, impl="fast"), naive_upfirdn2d(x, radial, pad=(1, 1, 1, 1)))


def test_filters_made_in_inference_mode_are_remembered_too():
    """Inference tensors have no version counter (a model built under inference_mode has such buffers)."""
    with torch.inference_mode():
        f = setup_filter([1, 3, 3, 1])
        x = torch.randn(1, 2, 32, 32)
        upsample2d(x, f, impl="fast")
        with count_host_syncs() as syncs:
            out = upsample2d(x, f, impl="fast")
    assert syncs == [] and is_rank1(f)
    assert_close(out, upsample2d(x, f, impl="ref"))


def test_unseen_filters_are_not_read_while_compiling_or_fake():
    with fake_cuda() as mode:
        f = cuda_like(mode, setup_filter([1, 3, 3, 1]))
        with count_host_syncs() as syncs:
            assert known_facts(f) is None  # general 2-D path: exact, no read
    assert syncs == []


@pytest.mark.skipif(not torch.backends.nnpack.is_available(), reason="PyTorch built without NNPACK")
def test_winograd_convolutions_trace_as_one_graph(monkeypatch):
    """'fast' sends large 3x3 convolutions to NNPACK through a custom op with a shape function: traced too."""
    import stylegan_ops.modulated_conv as modulated_conv_module

    monkeypatch.setattr(modulated_conv_module, "WINOGRAD_MIN_MACS", 0)
    call = op_calls()["modulated_conv2d_sg3"]
    call("fast")
    torch._dynamo.reset()
    explained = torch._dynamo.explain(call)("fast")
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)
    assert "stylegan_ops.winograd_conv2d" in explained.graphs[0].code     # the compiled frame keeps Winograd
