"""The ``Generator`` protocol both families implement, and the base class that implements it once.

Every generator netblend hands out (``StyleGAN2Generator``, ``StyleGAN3Generator`` and
``engine.blend.BlendedGenerator``) has the same surface::

    G.family, G.config, G.init_kwargs, G.layers
    G.z_dim, G.w_dim, G.c_dim, G.num_ws, G.img_resolution, G.img_channels
    G.impl          # settable: the stylegan_ops implementation ('ref' | 'fast' | ... or 'op=impl,...')
    G.precision     # settable: 'auto' (fp16 layers in half on CUDA only) | 'fp32' | 'fp16'
    G.num_fp16_res  # settable: how many of the highest resolutions are fp16 layers
    G.mapping(z, c=None, truncation_psi=1.0, truncation_cutoff=None)           -> ws [N, num_ws, w_dim]
    G.synthesis(ws, noise_mode="const", transform=None, noise_gain=1.0)        -> float32 [N, C, R, R]
    G(z, c=None, truncation_psi=1.0, truncation_cutoff=None, noise_mode="const", transform=None, noise_gain=1.0)

and the same mistakes raise the same exception, :class:`GeneratorInputError` (a ``NetblendError``
and a ``ValueError``): a z, c or ws of the wrong shape or type, an unknown noise mode, impl or
precision, a transform StyleGAN2 does not have, a negative ``num_fp16_res``.

Precision: ``num_fp16_res`` marks the layers of the highest resolutions as fp16 layers (StyleGAN2: the
last ``num_fp16_res`` blocks, at least 8x8; StyleGAN3: layers whose sampling rate times
``2**num_fp16_res`` exceeds the image resolution), as the official configs do (4). They compute in
float16 when ``precision`` says so: ``'auto'`` on CUDA only (CPU and MPS stay float32), ``'fp16'`` on
every device (the CPU runs it slowly: for tests), ``'fp32'`` never. The mapping network, the
accumulated StyleGAN2 image and the output are always float32. Tolerance against the float32
reference: see :data:`FP16_TOLERANCE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from engine.errors import NetblendError
from stylegan_ops.bias_act import IMPLS

from .layers import LayerTable

PRECISIONS = ("auto", "fp32", "fp16")
NOISE_MODES = ("const", "random", "none")
OPS = ("upfirdn2d", "bias_act", "filtered_lrelu", "modulated_conv")
# The op implementation per op and device type: the single place to change the engine's defaults.
# CPU: 'fast', measured side by side on this project's CPU (scripts/time_sg2.py, scripts/time_sg3.py; see
# docs/architecture.md) and passing the oracle parity tests there. CUDA: the kernel engineer's
# recommendation (docs/gpu.md "Which impl per op on CUDA"): the fused CUDA filtered_lrelu where
# stylegan_ops.cuda.build() succeeds at warm-up (build_default_ops), else the fused Triton one; Triton
# bias_act; cuDNN ('fast') for upfirdn2d and the modulated convolutions. An impl that cannot run here
# falls back along FALLBACKS. MPS: 'fast'. Parity on a GPU: test_default_impl_matches_ref_on_the_gpu.
DEFAULT_IMPLS: dict[str, dict[str, str]] = {
    "cpu": dict.fromkeys(OPS, "fast"),
    "cuda": {"upfirdn2d": "fast", "bias_act": "triton", "filtered_lrelu": "cuda", "modulated_conv": "fast"},
    "mps": dict.fromkeys(OPS, "fast"),
}
FALLBACKS = {"cuda": "triton", "triton": "fast"}
# The documented fp16 tolerance: with fp16 layers computing in half, the image differs from the
# float32 reference by at most this fraction of the reference's largest magnitude (max |fp16 - fp32|
# <= FP16_TOLERANCE * max |fp32|). Measured on the CPU over 20 tiny variants (StyleGAN2 orig/skip/resnet
# and StyleGAN3 T/R at 16 and 32 px, num_fp16_res 4, ref and fast ops, batch 4, psi 0.7): worst 0.52 %,
# mean error <= 0.055 %. The CUDA check (tests/models/test_fp16.py, gpu) holds the GPU to the same bound.
FP16_TOLERANCE = 0.01


class GeneratorInputError(NetblendError, ValueError):
    """A call or a setting a generator refuses; the message names the problem and the fix."""


class OpImpls(NamedTuple):
    """One ``stylegan_ops`` implementation per op; ``str()`` is one name when all agree, else
    ``op=impl,...`` (what ``G.impl`` reports and accepts)."""

    upfirdn2d: str
    bias_act: str
    filtered_lrelu: str
    modulated_conv: str

    def __str__(self) -> str:
        if len(set(self)) == 1:
            return self[0]
        return ",".join(f"{op}={impl}" for op, impl in zip(OPS, self))


def op_impl(impl: str | OpImpls, op: str) -> str:
    """The implementation of ``op`` under a layer's ``impl`` (one name for every op, or an OpImpls)."""
    return impl if isinstance(impl, str) else getattr(impl, op)


def impl_problem(impl: str, device: torch.device) -> str | None:
    """Why ``impl`` cannot run on ``device`` now, or None (nothing is built or imported here)."""
    from stylegan_ops import cuda as cuda_ops
    from stylegan_ops.backends import triton_installed

    if impl == "triton" and (device.type != "cuda" or not triton_installed()):
        return "Triton runs on CUDA with the triton package"
    if impl == "cuda" and (device.type != "cuda" or not cuda_ops.is_built()):
        return "the CUDA kernel is not built (warm-up builds it)"
    return None


def default_impl(device: str | torch.device = "cpu") -> str:
    """The op implementations the engine uses on ``device`` unless told otherwise: :data:`DEFAULT_IMPLS`,
    each op falling back along :data:`FALLBACKS` while its choice cannot run here. One name (``'fast'``)
    when every op agrees, else ``'op=impl,...'``."""
    device = torch.device(device)
    table = DEFAULT_IMPLS.get(device.type, dict.fromkeys(OPS, "ref"))
    chosen = []
    for op in OPS:
        impl = table[op]
        while impl in FALLBACKS and impl_problem(impl, device) is not None:
            impl = FALLBACKS[impl]
        chosen.append(impl)
    return str(OpImpls(*chosen))


_BUILD_FAILED: list[str] = []                     # why stylegan_ops.cuda.build() failed in this process


def build_default_ops(device: str | torch.device) -> list[str]:
    """Warm-up: build what :data:`DEFAULT_IMPLS` asks for on ``device`` (the CUDA filtered_lrelu kernel:
    minutes the first time, then loaded from its build folder). A build that fails is tried once per
    process and said in one returned line (the op then falls back, :func:`default_impl`)."""
    device = torch.device(device)
    if device.type != "cuda" or "cuda" not in DEFAULT_IMPLS.get(device.type, {}).values():
        return []
    from stylegan_ops import cuda as cuda_ops

    if cuda_ops.is_built() or _BUILD_FAILED:
        return []
    try:
        cuda_ops.build()
    except Exception as e:  # no nvcc, no ninja, a compiler error: the Triton kernel serves instead
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        _BUILD_FAILED.append(reason)
        return [f"filtered_lrelu: the CUDA kernel could not be built ({reason[:200]}); using "
                f"{FALLBACKS['cuda']} instead (fast where Triton is missing)"]
    return []


def check_impl(value: object) -> str | OpImpls:
    """``value`` as a layer's impl: one name of ``IMPLS``, or ``'op=impl,...'`` / an :class:`OpImpls`
    (ops not named take ``'fast'``); else :class:`GeneratorInputError`."""
    if isinstance(value, OpImpls):
        value = str(value)
    if isinstance(value, str) and value in IMPLS:
        return value
    if isinstance(value, str) and "=" in value:
        chosen = dict.fromkeys(OPS, "fast")
        for part in value.split(","):
            op, _, impl = part.strip().partition("=")
            if op not in OPS or impl not in IMPLS:
                raise GeneratorInputError(f"impl {value!r}: {part.strip()!r} is not op=impl with op in "
                                          f"{', '.join(OPS)} and impl in {', '.join(IMPLS)}")
            chosen[op] = impl
        ops = OpImpls(**chosen)
        return ops[0] if len(set(ops)) == 1 else ops
    raise GeneratorInputError(f"impl {value!r} is unknown; use one of {', '.join(map(repr, IMPLS))} "
                              f"or op=impl pairs ({', '.join(OPS)})")


def check_noise_mode(value: object) -> str:
    """``value`` if it is a noise mode, else :class:`GeneratorInputError`."""
    if value not in NOISE_MODES:
        raise GeneratorInputError(f"noise_mode {value!r} is unknown; use one of {', '.join(NOISE_MODES)}")
    return str(value)


def as_float32(value: Any, device: torch.device, what: str) -> torch.Tensor:
    """A numpy array (any float dtype), list or tensor as a float32 tensor on ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=torch.float32)
    if isinstance(value, (np.ndarray, list, tuple)):
        return torch.as_tensor(np.asarray(value, dtype=np.float32), device=device)
    raise GeneratorInputError(f"{what} must be a numpy array or a torch tensor, got {type(value).__name__}")


def check_ws(ws: Any, num_ws: int, w_dim: int, device: torch.device) -> torch.Tensor:
    """ws as float32 ``[N, num_ws, w_dim]`` on ``device``, or :class:`GeneratorInputError`."""
    ws = as_float32(ws, device, "ws")
    if ws.ndim != 3 or tuple(ws.shape[1:]) != (num_ws, w_dim):
        raise GeneratorInputError(f"ws has shape {tuple(ws.shape)} but this model takes [N, {num_ws}, {w_dim}]; "
                                  f"make ws with G.mapping(z) or a W+ file made for this model")
    return ws


def uses_half(precision: str, device: torch.device, force_fp32: bool = False) -> bool:
    """Whether fp16 layers compute in float16 for this call (see the module docstring)."""
    if force_fp32 or precision == "fp32":
        return False
    return precision == "fp16" or device.type == "cuda"


@runtime_checkable
class Generator(Protocol):
    """What every netblend generator offers (see the module docstring)."""

    family: str
    config: str
    init_kwargs: dict[str, Any]
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    img_resolution: int
    img_channels: int
    impl: str
    precision: str
    num_fp16_res: int

    @property
    def layers(self) -> LayerTable: ...

    @property
    def mapping(self) -> Callable[..., torch.Tensor]: ...

    @property
    def synthesis(self) -> Callable[..., torch.Tensor]: ...

    def __call__(self, z: Any, c: Any = None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                 noise_mode: str = "const", transform: torch.Tensor | None = None,
                 noise_gain: float = 1.0) -> torch.Tensor: ...


class GeneratorBase(nn.Module):
    """The shared half of both families: impl, precision, fp16 layers, forward, parameter count.

    A subclass sets ``family``, ``config``, ``init_kwargs``, the dimensions, ``mapping`` and a
    ``synthesis`` module that has ``impl``, ``precision``, ``num_fp16_res`` and ``set_num_fp16_res``.
    """

    family: str
    config: str
    init_kwargs: dict[str, Any]
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    img_resolution: int
    img_channels: int
    mapping: Any                        # the family's MappingNetwork
    synthesis: Any                      # the family's SynthesisNetwork (impl, precision, num_fp16_res)

    @property
    def impl(self) -> str:
        """The ``stylegan_ops`` implementation of the layers: one name ('ref' = the plain PyTorch reference,
        'fast', 'triton', 'cuda') or per op, ``'upfirdn2d=fast,bias_act=triton,...'``."""
        return str(self.synthesis.impl)

    @impl.setter
    def impl(self, value: str | OpImpls) -> None:
        value = check_impl(value)
        for module in self.modules():
            if "impl" in vars(module):
                module.impl = value  # type: ignore[assignment]  # a plain attribute of each layer

    @property
    def precision(self) -> str:
        """'auto' (fp16 layers in float16 on CUDA only), 'fp32' or 'fp16' (on every device)."""
        return str(self.synthesis.precision)

    @precision.setter
    def precision(self, value: str) -> None:
        if value not in PRECISIONS:
            raise GeneratorInputError(f"precision {value!r} is unknown; use one of {', '.join(PRECISIONS)}")
        self.synthesis.precision = value

    @property
    def num_fp16_res(self) -> int:
        """How many of the highest resolutions are fp16 layers (official configs: 4; 0 = none)."""
        return int(self.synthesis.num_fp16_res)

    @num_fp16_res.setter
    def num_fp16_res(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise GeneratorInputError(f"num_fp16_res must be a whole number >= 0, got {value!r}")
        self.synthesis.set_num_fp16_res(int(value))

    def forward(self, z: Any, c: Any = None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "const", transform: torch.Tensor | None = None, noise_gain: float = 1.0,
                force_fp32: bool = False) -> torch.Tensor:
        """Map then render: a float32 image ``[N, img_channels, R, R]``, unclamped."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, transform=transform, noise_gain=noise_gain,
                              force_fp32=force_fp32)

    def num_parameters(self) -> int:
        """Number of learned parameters (buffers not counted)."""
        return int(sum(p.numel() for p in self.parameters()))
