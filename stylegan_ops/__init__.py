"""The custom StyleGAN ops, each one entry point with an ``impl``:

- ``'ref'``: plain PyTorch that defines the math;
- ``'fast'``: the fastest pure-PyTorch formulation (channels_last, separable passes, Winograd on CPU);
- ``'triton'``: Triton kernels for ``upfirdn2d``, ``bias_act`` and a fused one-pass ``filtered_lrelu``
  (``triton_ops``; CUDA tensors, or CPU tensors through Triton's interpreter with ``TRITON_INTERPRET=1``);
- ``'cuda'``: netblend's own fused ``filtered_lrelu`` CUDA kernel (``stylegan_ops.cuda``; built by
  ``stylegan_ops.cuda.build()`` during warm-up, never on import or during a call).

An op without a kernel of the requested kind runs its 'fast' formulation for that part (the modulated
convolutions use cuDNN/oneDNN under every impl and pass ``impl`` on to their FIR stages). An impl that
cannot run here raises ``OpUnavailableError`` with one line naming the fix. No per-call path reads a
value on the host or breaks a ``torch.compile`` graph; facts about filters are read once per filter
(``filters``).

Never imports anything from ``engine``, nor any I/O library, nor triton (until impl='triton' runs).
"""

from .backends import OpUnavailableError
from .bias_act import ACTIVATIONS, bias_act
from .filtered_lrelu import filtered_lrelu
from .modulated_conv import conv2d_resample, modulated_conv2d, modulated_conv2d_sg3
from .upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = [
    "ACTIVATIONS",
    "OpUnavailableError",
    "bench_ops",
    "bias_act",
    "conv2d_resample",
    "modulated_conv2d",
    "modulated_conv2d_sg3",
    "downsample2d",
    "filter2d",
    "filtered_lrelu",
    "setup_filter",
    "upfirdn2d",
    "upsample2d",
]


def bench_ops(device: str = "cpu", quick: bool = False) -> list[dict]:
    """Reference vs fast timings per op over one generator frame (see ``stylegan_ops.benchmark``)."""
    from .benchmark import bench_ops as run

    return run(device, quick)
