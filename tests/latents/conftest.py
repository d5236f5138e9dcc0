"""Generators for the latent tests: the official-weights oracle models, built by netblend's own code."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.models.build import build_generator


def oracle_generator(folder, name: str):
    """``build_generator`` over an oracle state dict (``sg2_64_A``, ``sg3t_64_A``)."""
    init_kwargs = json.loads((folder / f"{name}.json").read_text())["init_kwargs"]
    state = {k: torch.from_numpy(v) for k, v in np.load(folder / f"{name}.npz").items()}
    return build_generator(init_kwargs, state)


@pytest.fixture(scope="session")
def sg2(oracle):
    """The 64 px StyleGAN2 oracle model (z_dim 64, w_dim 128, num_ws 10)."""
    return oracle_generator(oracle, "sg2_64_A")


@pytest.fixture(scope="session")
def sg3(oracle):
    """The 64 px StyleGAN3-T oracle model (16 W+ rows)."""
    return oracle_generator(oracle, "sg3t_64_A")
