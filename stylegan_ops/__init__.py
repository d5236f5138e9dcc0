"""The custom StyleGAN ops, each one entry point with ``impl='ref'`` (plain PyTorch that defines the
math) or ``impl='fast'`` (the fastest pure-PyTorch formulation for the device).

Never imports anything from ``engine`` nor any I/O library.
"""

from .bias_act import ACTIVATIONS, bias_act
from .upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = [
    "ACTIVATIONS",
    "bias_act",
    "downsample2d",
    "filter2d",
    "setup_filter",
    "upfirdn2d",
    "upsample2d",
]
