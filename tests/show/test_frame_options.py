"""How a show's frames are computed: --compile, --cuda-graph, --precision, the per-op default impls,
and every fallback saying why (issue #13, items 2-4). CPU only; the GPU halves are tests marked gpu."""

from __future__ import annotations

import contextlib
import logging

import pytest
import torch

from engine.core.clock import FakeClock
from engine.errors import NetblendError
from engine.models import generator as generator_module
from engine.models.generator import DEFAULT_IMPLS, OPS, OpImpls, build_default_ops, check_impl, default_impl
from engine.show.build import RenderSettings, build_renderer, resolve_precision, warm_up
from engine.show.catalog import build_registry
from engine.show.frame import FrameOptions, FramePrograms, resolve_modes
from tests.helpers import tiny_pair

CPU = torch.device("cpu")


def _show(settings: RenderSettings):
    renderer = build_renderer(tiny_pair(), CPU, settings=settings)
    registry = build_registry(renderer.blended)
    registry.set("latent.walk.mode", "slerp")
    return renderer, registry


def test_cuda_graphs_asked_for_on_the_cpu_are_refused_with_the_reason_and_frames_still_render(caplog):
    renderer, registry = _show(RenderSettings(frame=FrameOptions(compile="off", cuda_graph="on")))
    assert renderer.programs.graph is False
    with caplog.at_level(logging.WARNING, logger="netblend"):
        warm_up(renderer, registry, tune_threads=False, frames=1)
    assert any("--cuda-graph on: CUDA graphs need a CUDA device (this show runs on cpu)" in r.getMessage()
               for r in caplog.records)
    assert renderer.programs.graphs == {} and renderer.programs.last_mode == "eager"
    pixels = renderer.render(registry.targets(), FakeClock(fps=30).tick())
    assert pixels.shape == (32, 32, 4) and int(pixels[..., :3].float().std()) > 0


def test_auto_compiles_on_cuda_with_graphs_and_not_on_the_cpu_or_mps():
    assert resolve_modes(FrameOptions(), torch.device("cpu"))[:2] == (False, False)
    assert resolve_modes(FrameOptions(), torch.device("mps"))[:2] == (False, False)
    compiled, graph, notes = resolve_modes(FrameOptions(compile="on"), torch.device("cpu"))
    assert (compiled, graph, notes) == (True, False, [])              # graphs auto: CUDA only, said nothing
    compiled, _, _ = resolve_modes(FrameOptions(), torch.device("cuda"))
    assert compiled is True


def test_compile_without_set_stance_in_this_torch_falls_back_with_one_line(monkeypatch):
    monkeypatch.delattr(torch.compiler, "set_stance")
    compiled, _, notes = resolve_modes(FrameOptions(compile="on"), CPU)
    assert compiled is False
    assert notes == [f"--compile on: torch {torch.__version__} lacks torch.compiler.set_stance (needs torch >= "
                     "2.6); frames run eagerly"]


def test_a_compiler_that_fails_leaves_the_show_on_eager_frames_with_the_reason(caplog):
    def broken_backend(gm, example_inputs):
        raise RuntimeError("no C++ compiler found")

    renderer, registry = _show(RenderSettings(frame=FrameOptions(compile="on", backend=broken_backend)))
    eager, _ = _show(RenderSettings(frame=FrameOptions(compile="off")))
    torch._dynamo.reset()
    with caplog.at_level(logging.WARNING, logger="netblend"):
        warm_up(renderer, registry, tune_threads=False, frames=1)
    assert renderer.programs.ready == set() and len(renderer.programs.failed) == 1
    assert any("compiled frame unavailable for walk slerp in z" in r.getMessage() and "no C++ compiler found"
               in r.getMessage() and r.getMessage().endswith("running eagerly") for r in caplog.records)
    clock_a, clock_b = FakeClock(fps=30), FakeClock(fps=30)
    for _ in range(2):
        got = renderer.render(registry.targets(), clock_a.tick()).clone()
        assert torch.equal(got, eager.render(registry.targets(), clock_b.tick()))
    assert renderer.programs.last_mode == "eager"


def test_a_compiled_frame_that_renders_other_pixels_is_dropped(caplog):
    def wrong_backend(gm, example_inputs):
        def run(*args):
            out = gm(*args)
            for arg in args:                      # the frame buffer: scribble over it after the real frame
                if isinstance(arg, torch.Tensor) and arg.dtype == torch.uint8:
                    arg.fill_(7)
            return out
        return run

    renderer, registry = _show(RenderSettings(frame=FrameOptions(compile="on", backend=wrong_backend)))
    torch._dynamo.reset()
    with caplog.at_level(logging.WARNING, logger="netblend"):
        warm_up(renderer, registry, tune_threads=False, frames=1)
    assert renderer.programs.ready == set()
    assert any("differs from the eager frame" in r.getMessage() for r in caplog.records)


def test_precision_auto_is_half_on_cuda_only_and_fp16_elsewhere_is_a_clear_error():
    assert resolve_precision("auto", torch.device("cuda")) == "fp16"
    assert resolve_precision("auto", torch.device("mps")) == "fp32"
    assert resolve_precision("fp32", torch.device("cuda")) == "fp32"
    with pytest.raises(NetblendError, match="--precision fp16: half precision runs on CUDA only .mps renders "
                                            "fp32.; use --precision auto or fp32"):
        resolve_precision("fp16", torch.device("mps"))
    renderer, _ = _show(RenderSettings(precision="fp32", num_fp16_res=2))
    assert (renderer.blended.precision, renderer.blended.num_fp16_res) == ("fp32", 2)


def test_show_config_precision_fails_before_any_model_loads(monkeypatch):
    from engine.show import ShowConfig, assemble, assembly

    monkeypatch.setattr(assembly, "load_models", lambda *a: pytest.fail("models loaded"))
    with pytest.raises(NetblendError, match="--precision fp16"):
        assemble(ShowConfig(device="cpu", precision="fp16"))


def test_the_default_impl_table_follows_the_kernel_recommendation_per_op():
    assert DEFAULT_IMPLS["cuda"] == {"upfirdn2d": "fast", "bias_act": "triton", "filtered_lrelu": "cuda",
                                     "modulated_conv": "fast"}
    assert default_impl("cpu") == "fast" and default_impl("mps") == "fast"
    from stylegan_ops.backends import triton_installed

    expected = "triton" if triton_installed() else "fast"              # the kernel is not built here
    assert default_impl("cuda") == str(OpImpls("fast", expected, expected, "fast"))


def test_per_op_impls_reach_each_op(monkeypatch):
    import stylegan_ops
    from engine.models import mapping, stylegan2

    seen: list[tuple[str, str]] = []
    for module, name in ((stylegan2, "bias_act"), (mapping, "bias_act"), (stylegan2, "modulated_conv2d"),
                         (stylegan2, "upsample2d")):
        original = getattr(stylegan_ops, name)
        monkeypatch.setattr(module, name, lambda *a, _n=name, _f=original, **k: (seen.append((_n, k["impl"])),
                                                                                  _f(*a, **{**k, "impl": "ref"}))[1])
    G = tiny_pair()[0]
    G.impl = "bias_act=ref,modulated_conv=fast,upfirdn2d=ref"
    assert isinstance(check_impl(G.impl), OpImpls) and G.impl == "upfirdn2d=ref,bias_act=ref,filtered_lrelu=fast," \
                                                                 "modulated_conv=fast"
    G(torch.zeros(1, G.z_dim))
    assert set(seen) == {("bias_act", "ref"), ("modulated_conv2d", "fast"), ("upsample2d", "ref")}
    with pytest.raises(NetblendError, match="'bias_act=best' is not op=impl"):
        G.impl = "bias_act=best"
    assert set(OPS) == {"upfirdn2d", "bias_act", "filtered_lrelu", "modulated_conv"}


def test_a_cuda_kernel_that_does_not_build_falls_back_with_one_line_once(monkeypatch):
    from stylegan_ops import OpUnavailableError
    from stylegan_ops import cuda as cuda_ops

    calls = []

    def build():
        calls.append(1)
        raise OpUnavailableError("impl='cuda' needs a CUDA build of PyTorch (this one is CPU-only); use impl='fast'")

    monkeypatch.setattr(cuda_ops, "build", build)
    monkeypatch.setattr(generator_module, "_BUILD_FAILED", [])
    assert build_default_ops("cpu") == []                             # nothing to build off CUDA
    lines = build_default_ops("cuda")
    assert lines == ["filtered_lrelu: the CUDA kernel could not be built (impl='cuda' needs a CUDA build of "
                     "PyTorch (this one is CPU-only); use impl='fast'); using triton instead (fast where Triton "
                     "is missing)"]
    assert build_default_ops("cuda") == [] and calls == [1]           # tried once per process
    assert "filtered_lrelu=cuda" not in default_impl("cuda")


def test_programs_never_compile_on_a_live_frame():
    calls = []
    programs = FramePrograms(lambda x: calls.append(x), CPU, FrameOptions(compile="on", backend="eager"))
    programs.run("key", 1)
    assert calls == [1] and programs.last_mode == "eager" and programs._compiled is None


def test_a_live_frame_runs_eagerly_while_another_thread_compiles():
    from engine.show import frame

    calls = []
    programs = FramePrograms(lambda x: calls.append(("eager", x)), CPU, FrameOptions(compile="on", backend="eager"))
    programs.ready.add("key")
    programs._compiled = lambda x: calls.append(("compiled", x))
    with frame._COMPILING:                                           # a swap's loader thread compiling
        assert programs.run("key", 1) == "eager"
    assert programs.run("key", 2) == "compiled"
    assert calls == [("eager", 1), ("compiled", 2)]


def test_swapped_in_models_are_compiled_on_the_loader_thread_and_play_compiled(tmp_path):
    from torch._dynamo.testing import CompileCounter

    from engine.models.loaders import save_generator
    from tests.helpers import make_show, steps

    counter = CompileCounter()
    torch._dynamo.reset()
    settings = RenderSettings(frame=FrameOptions(compile="on", backend=counter))
    show = make_show(tmp_path, settings=settings)
    try:
        show.registry.set("latent.walk.mode", "slerp")
        warm_up(show.renderer, show.registry, tune_threads=False, frames=1)
        assert show.renderer.programs.ready and counter.frame_count == 1
        paths = [tmp_path / "a.netblend.safetensors", tmp_path / "b.netblend.safetensors"]
        for G, path in zip(tiny_pair(seed=7), paths):
            save_generator(G, path)
        show.swap_models(paths)
        assert show.swapper.wait_idle(60) and not show.swapper.errors
        steps(show, 1)
        assert show.model_paths == paths
        assert show.renderer.programs.ready and counter.frame_count == 2   # compiled before the switch
        steps(show, 3)
        assert show.renderer.programs.last_mode == "compiled" and counter.frame_count == 2
    finally:
        show.close()


def test_the_graph_path_captures_after_side_stream_runs_and_replays_with_new_values(monkeypatch):
    """The CUDA-graph plumbing on the CPU: torch.cuda's stream and graph calls replaced by stand-ins that
    record the calls, and whose 'replay' runs the captured call again (as a graph re-reads its tensors).
    The GPU test (tests/show/test_frame_gpu.py) checks the real capture."""
    from engine.show import frame

    seen: list[str] = []

    class Stream:
        def __init__(self, device=None):
            seen.append("stream")

        def wait_stream(self, other):
            pass

    class Graph:
        def replay(self):
            seen.append("replay")
            self.call()

    capturing: list[Graph] = []

    @contextlib.contextmanager
    def capture(graph, pool=None, capture_error_mode="global"):
        seen.append(f"capture {capture_error_mode}")
        capturing.append(graph)
        try:
            yield
        finally:
            capturing.clear()

    def recorded(*args):                     # the device half; inside a capture, what the graph will replay
        if capturing:
            capturing[0].call = lambda: real(*args)
        else:
            seen.append("run")
        real(*args)

    monkeypatch.setattr(frame, "graph_problem", lambda device: None)
    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream.__new__(Stream))
    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    monkeypatch.setattr(torch.cuda, "graph", capture)
    monkeypatch.setattr(torch.cuda, "graph_pool_handle", lambda: "pool")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    renderer, registry = _show(RenderSettings(frame=FrameOptions(compile="off", cuda_graph="on")))
    eager, _ = _show(RenderSettings(frame=FrameOptions(compile="off", cuda_graph="off")))
    programs = renderer.programs
    real, programs.draw = programs.draw, recorded
    clock = FakeClock(fps=30)
    assert renderer.prepare_frames(registry.targets(), clock.tick()) == []
    # eager first, three warm-up runs on a side stream, the capture (thread-local), a checked replay
    assert seen == ["run", "stream", "run", "run", "run", "capture thread_local", "replay"]
    assert len(programs.graphs) == 1
    for i in range(3):
        values = {**registry.targets(), "blend.layer.2": 0.3 * i, "latent.psi": 0.5 + 0.1 * i}
        ft = clock.tick()
        got = renderer.render(values, ft).clone()
        assert programs.last_mode == "graph" and seen[-1] == "replay"
        assert torch.equal(got, eager.render(values, ft))
