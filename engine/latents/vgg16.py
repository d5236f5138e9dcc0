"""VGG16 features for the projector's perceptual loss, written for netblend.

The module's ``state_dict`` keys match torchvision's ``vgg16().features`` (``features.0.weight``,
... ``features.28.bias``), so the torchvision ImageNet weights file a user already has
(``vgg16-*.pth`` in the torch hub cache, or any path) loads unchanged. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelLoadError

# torchvision's configuration "D": channels per conv, "M" = 2x2 max pool
LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
TAPS = (3, 8, 15, 22, 29)                 # indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16Features(nn.Module):
    """The convolutional part of VGG16 up to relu5_3; ``forward`` returns the five tapped activations."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                channels = int(item)
        self.features = nn.Sequential(*layers)

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        """``img``: ``[N, 3, H, W]`` in [-1, 1]; returns the activations at :data:`TAPS`."""
        mean = img.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = img.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        x = ((img + 1.0) * 0.5 - mean) / std                             # [N, 3, H, W] ImageNet-normalised
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in TAPS:
                taps.append(x)
        return taps


def perceptual_distance(vgg: VGG16Features, a: torch.Tensor, b_taps: list[torch.Tensor]) -> torch.Tensor:
    """LPIPS-style distance: channel-normalised features, squared difference, mean over space, summed."""
    total = a.new_zeros(())
    for fa, fb in zip(vgg(a), b_taps):
        na = fa / (fa.norm(dim=1, keepdim=True) + 1e-10)                 # [N, C, h, w]
        nb = fb / (fb.norm(dim=1, keepdim=True) + 1e-10)
        total = total + (na - nb).square().sum(dim=1).mean()
    return total


def find_vgg16_weights(explicit: str | os.PathLike | None = None) -> Path | None:
    """``explicit`` if given (it must exist), else torchvision's ``vgg16-*.pth`` in the torch hub cache."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"VGG16 weights {path} do not exist; pass the torchvision vgg16-*.pth file")
        return path
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(checkpoints.glob("vgg16-*.pth")) if checkpoints.is_dir() else []
    return found[0] if found else None


def load_vgg16(path: str | os.PathLike, device: torch.device | str = "cpu") -> VGG16Features:
    """VGG16 features from a torchvision ``vgg16`` state dict file (the classifier part is ignored)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        raise ModelLoadError(f"cannot read VGG16 weights {Path(path).name}: {type(e).__name__}; "
                             "pass torchvision's vgg16-*.pth") from None
    if not isinstance(state, dict):
        raise ModelLoadError(f"{Path(path).name} is not a state dict; pass torchvision's vgg16-*.pth")
    with torch.device("meta"):                       # no random init: every weight comes from the file
        model = VGG16Features()
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in features]
    wrong = [k for k in wanted if k in features and tuple(features[k].shape) != tuple(wanted[k].shape)]
    if missing or wrong:
        first = (missing or wrong)[0]
        raise ModelLoadError(f"{Path(path).name} is not torchvision's VGG16 ({'missing' if missing else 'shape of'} "
                             f"{first}); pass the vgg16-*.pth file")
    model.load_state_dict({k: features[k].float() for k in wanted}, assign=True)
    return model.to(device).eval().requires_grad_(False)
