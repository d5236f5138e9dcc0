"""The custom StyleGAN ops, each one entry point with ``impl='ref'`` (plain PyTorch that defines the
math) or ``impl='fast'`` (the fastest pure-PyTorch formulation for the device).

Never imports anything from ``engine`` nor any I/O library.
"""

from .bias_act import ACTIVATIONS, bias_act
from .filtered_lrelu import filtered_lrelu
from .modulated_conv import conv2d_resample, modulated_conv2d, modulated_conv2d_sg3
from .upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = [
    "ACTIVATIONS",
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
