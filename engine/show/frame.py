"""The device half of a frame, run eagerly, compiled, or replayed as a CUDA graph.

A frame has a host half (the blend rows, the latent plan and scalars, the bending amounts: numbers the
snapshot gives, sent to the device with non-blocking copies into tensors of fixed address) and a device
half (latents -> synthesis -> RGBA, a pure function of those tensors and of a small *key*: the walk plan,
the noise mode, the active bending ops, the op impl and precision). :class:`FramePrograms` runs the
device half for a key:

- **eager**: the plain Python code (always available; what every other mode must equal);
- **compiled**: ``torch.compile`` of the same code, one graph per key, compiled in :meth:`prepare`
  (warm-up, or a model swap on the loader thread), never on a live frame: a key not prepared runs
  eagerly (said once in the log) and a live call runs under the ``eager_on_recompile`` stance, so a
  guard that fails falls back to eager instead of compiling;
- **graph**: on CUDA, the compiled (or eager) device half captured once per key in a CUDA graph and
  replayed: every per-frame value lives in device tensors the graph reads, so a replay renders the
  frame's own values.

Compiled code is cached on disk (:func:`use_compile_cache`: inductor's FX-graph and Triton caches under
``cache_dir("compile")``), so a show that was warmed up once (``netblend warmup``) starts without
running the compilers again. Which mode ``auto`` picks per device is :data:`AUTO_COMPILE` (see
docs/gpu.md for the measurements behind it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import torch

from ..core.paths import cache_dir

log = logging.getLogger("netblend")

COMPILE_CHOICES = ("auto", "on", "off")
GRAPH_CHOICES = ("auto", "on", "off")
# What ``--compile auto`` does per device type, from `netblend bench` side by side (docs/gpu.md):
# CPU: inductor gave x0.97 on StyleGAN3-T and costs minutes to compile: off. CUDA: on, with CUDA graphs
# (batch-1 frames are launch-bound; confirm with scripts/gpu-check). MPS: off (inductor's MPS
# backend is young and unmeasured here).
AUTO_COMPILE = {"cuda": True, "cpu": False, "mps": False}
CAPTURE_WARMUP = 3           # eager runs on a side stream before a CUDA graph capture (cuDNN/cuBLAS set-up)
# Held while a frame compiles or is captured (warm-up, or a swap's loader thread). torch.compile's stance is
# process-wide, so a live compiled frame takes it without waiting, or runs eagerly while it is busy.
_COMPILING = threading.Lock()


@dataclass(frozen=True)
class FrameOptions:
    """How the device half of a frame runs: ``compile`` and ``cuda_graph`` are ``auto``, ``on`` or ``off``
    (``auto`` graph = with compile, on CUDA); ``backend`` is torch.compile's (tests use lighter ones)."""

    compile: str = "auto"
    cuda_graph: str = "auto"
    backend: Any = "inductor"

    def __post_init__(self) -> None:
        from ..errors import NetblendError

        if self.compile not in COMPILE_CHOICES:
            raise NetblendError(f"--compile {self.compile!r}: choose {', '.join(COMPILE_CHOICES)}")
        if self.cuda_graph not in GRAPH_CHOICES:
            raise NetblendError(f"--cuda-graph {self.cuda_graph!r}: choose {', '.join(GRAPH_CHOICES)}")


def compile_problem() -> str | None:
    """Why torch.compile cannot serve live frames in this PyTorch, or None."""
    if not hasattr(torch.compiler, "set_stance"):
        return f"torch {torch.__version__} lacks torch.compiler.set_stance (needs torch >= 2.6)"
    return None


def graph_problem(device: torch.device) -> str | None:
    """Why CUDA-graph replay cannot run on ``device``, or None."""
    if device.type != "cuda":
        return f"CUDA graphs need a CUDA device (this show runs on {device.type})"
    if not torch.cuda.is_available():
        return "CUDA graphs need a CUDA device (none is available)"
    return None


def resolve_modes(options: FrameOptions, device: torch.device) -> tuple[bool, bool, list[str]]:
    """``(compile, graph, notes)``: what this device will do for ``options``; each note is one line
    saying why something asked for is off."""
    notes: list[str] = []
    want_compile = options.compile == "on" or (options.compile == "auto" and AUTO_COMPILE.get(device.type, False))
    compiled = want_compile
    if want_compile and compile_problem():
        compiled = False
        if options.compile == "on":
            notes.append(f"--compile on: {compile_problem()}; frames run eagerly")
    want_graph = options.cuda_graph == "on" or (options.cuda_graph == "auto" and compiled)
    graph = want_graph and graph_problem(device) is None
    if want_graph and not graph and options.cuda_graph == "on":
        notes.append(f"--cuda-graph on: {graph_problem(device)}; frames run without graph replay")
    return compiled, graph, notes


def use_compile_cache() -> str:
    """Point inductor's caches (FX graphs, AOT autograd, Triton kernels) at ``cache_dir("compile")`` unless
    the user set them; returns the folder. Call before the first compile."""
    root = cache_dir("compile")
    inductor = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if inductor is None or inductor == _inductor_default():     # torch may have filled in its default
        inductor = os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor")
    os.environ.setdefault("TRITON_CACHE_DIR", str(root / "triton"))
    os.makedirs(inductor, exist_ok=True)
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    with contextlib.suppress(ImportError, AttributeError):
        import torch._functorch.config as functorch_config

        functorch_config.enable_autograd_cache = True
    return inductor


def _inductor_default() -> str | None:
    """Inductor's own default cache folder (it writes it into the environment on first use)."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:
        return None
    return os.path.abspath(default_cache_dir())


def synchronize(device: torch.device) -> None:
    """Wait for ``device`` (CUDA or MPS); nothing on the CPU. For timing and warm-up, never a live frame."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class FramePrograms:
    """The device half ``draw(*args)`` of a renderer's frame, per key: eager, compiled or a CUDA graph.

    ``draw`` writes its result into buffers of fixed address and returns nothing. ``prepare`` (off the
    live path) compiles and captures for a key; ``run`` (every frame) only uses what is prepared.
    """

    def __init__(self, draw: Callable[..., None], device: torch.device, options: FrameOptions | None = None):
        self.draw = draw
        self.device = device
        self.options = options or FrameOptions()
        self.compile, self.graph, self.notes = resolve_modes(self.options, device)
        self.ready: set[Hashable] = set()                    # keys compiled in prepare
        self.graphs: dict[Hashable, Any] = {}                # key -> torch.cuda.CUDAGraph
        self.failed: dict[Hashable, str] = {}                # key -> why it runs eagerly
        self.last_mode = "eager"
        self._missed: set[Hashable] = set()
        self._compiled: Callable[..., None] | None = None
        self._pool: Any = None

    @property
    def mode(self) -> str:
        """What the show asked for and got: ``eager``, ``compiled`` or ``graph``."""
        return "graph" if self.graph else "compiled" if self.compile else "eager"

    def mode_for(self, key: Hashable) -> str:
        """How :meth:`run` renders ``key`` now."""
        if key in self.graphs:
            return "graph"
        return "compiled" if key in self.ready else "eager"

    # ------------------------------------------------------------------ live
    def run(self, key: Hashable, *args: Any) -> str:
        """Render the device half for ``key``; returns the mode used. Never compiles nor captures."""
        graph = self.graphs.get(key)
        if graph is not None:
            graph.replay()
            self.last_mode = "graph"
        elif key in self.ready and _COMPILING.acquire(blocking=False):
            try:                             # the stance is process-wide: never while another thread compiles
                with torch.compiler.set_stance("eager_on_recompile"):
                    self._compiled_draw()(*args)
            finally:
                _COMPILING.release()
            self.last_mode = "compiled"
        elif key in self.ready:              # a swap's models compile on the loader thread: this frame eagerly
            self.draw(*args)
            self.last_mode = "eager"
        else:
            if self.compile and key not in self._missed and key not in self.failed:
                self._missed.add(key)
                log.info("frame %s was not compiled at warm-up: it runs eagerly (netblend warmup with this "
                         "preset compiles it)", describe_key(key))
            self.draw(*args)
            self.last_mode = "eager"
        return self.last_mode

    # ------------------------------------------------------------------ warm-up
    def prepare(self, key: Hashable, *args: Any, check: Callable[[], torch.Tensor] | None = None) -> list[str]:
        """Compile (and capture, on CUDA) the device half for ``key``, off the live path. ``check()``
        returns the frame's output after a call; the compiled and captured results must equal the eager
        one within two uint8 levels, else that mode is dropped for the key. Returns one line per
        fallback (also logged)."""
        if not (self.compile or self.graph) or key in self.ready or key in self.graphs or key in self.failed:
            return []
        with _COMPILING:
            return self._prepare(key, args, check)

    def _prepare(self, key: Hashable, args: tuple, check: Callable[[], torch.Tensor] | None) -> list[str]:
        self.draw(*args)                                     # eager first: filter facts, caches, kernels
        reference = None if check is None else check().clone()
        lines: list[str] = []
        if self.compile:
            try:
                with torch._dynamo.config.patch(skip_nnmodule_hook_guards=False):
                    self._compiled_draw()(*args)
                self._expect(reference, check, "compiled")
                self.ready.add(key)
            except Exception as e:  # compilation must never stop a show: eager is always right
                lines.append(self._fail(key, "compiled", e))
        if self.graph and (key in self.ready or not self.compile):
            try:
                self.graphs[key] = self._capture(args, compiled=key in self.ready)
                self.graphs[key].replay()
                self._expect(reference, check, "graph")
            except Exception as e:
                self.graphs.pop(key, None)
                lines.append(self._fail(key, "graph", e, drop=False))
        return lines

    def _compiled_draw(self) -> Callable[..., None]:
        if self._compiled is None:
            use_compile_cache()
            self._compiled = torch.compile(self.draw, backend=self.options.backend, dynamic=False)
        return self._compiled

    def _capture(self, args: tuple, compiled: bool) -> Any:
        fn = self._compiled_draw() if compiled else self.draw
        device = self.device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side), contextlib.ExitStack() as stack:
            if compiled:
                stack.enter_context(torch.compiler.set_stance("eager_on_recompile"))
            for _ in range(CAPTURE_WARMUP):
                fn(*args)
        torch.cuda.current_stream(device).wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with contextlib.ExitStack() as stack:
            if compiled:
                stack.enter_context(torch.compiler.set_stance("eager_on_recompile"))
            # thread_local: the render thread may keep launching work while a swap captures on the loader thread
            stack.enter_context(torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"))
            fn(*args)
        return graph

    def _expect(self, reference: torch.Tensor | None, check: Callable[[], torch.Tensor] | None, mode: str) -> None:
        if reference is None or check is None:
            return
        synchronize(self.device)
        diff = float((check().float() - reference.float()).abs().max())
        if diff > 2:
            raise RuntimeError(f"the {mode} frame differs from the eager frame by {diff} levels")

    def _fail(self, key: Hashable, mode: str, error: Exception, drop: bool = True) -> str:
        root: BaseException = error
        for _ in range(8):                                         # the compiler's own error, not dynamo's wrapper
            inner = root.__cause__ or getattr(root, "inner_exception", None)
            if not isinstance(inner, BaseException) or inner is root:
                break
            root = inner
        text = str(root).strip().splitlines()
        reason = f"{type(root).__name__}: {text[0] if text else ''}".rstrip(": ")
        if drop:
            self.failed[key] = reason
        line = f"{mode} frame unavailable for {describe_key(key)} ({reason[:300]}); " + \
            ("running eagerly" if mode == "compiled" else "running without graph replay")
        log.warning(line)
        return line


def describe_key(key: Hashable) -> str:
    """A short human label of a frame key (walk plan, noise mode, bending)."""
    if isinstance(key, FrameKey):
        return key.label()
    return str(key)


@dataclass(frozen=True)
class FrameKey:
    """What selects one compiled frame: a change here is a different program (everything else is values)."""

    walk: str                       # walk mode
    in_z: bool                      # walk in Z (through the mapping) or in W
    noise_mode: str
    bending: tuple                  # NetworkBender.signature: the active ops per layer
    impl: str
    precision: str
    num_fp16_res: int
    table: int                      # the latent table's layout version (new keyframe files may move it)

    def label(self) -> str:
        bend = f", bending {len(self.bending)} layers" if self.bending else ""
        return (f"walk {self.walk}{' in z' if self.in_z else ''}, noise {self.noise_mode}{bend}, impl {self.impl}, "
                f"precision {self.precision}")
