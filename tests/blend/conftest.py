"""Oracle-built model pairs for the blend tests (built once per session; tiny, CPU)."""

from __future__ import annotations

import pytest
import torch

import engine
from tests.conftest import oracle_generator as oracle_model


def perturbed(G, seed: int, scale: float = 0.2):
    """A sibling of ``G``: every blendable tensor moved (a stand-in for fine-tuning); filters kept."""
    gen = torch.Generator().manual_seed(seed)
    sd = G.state_dict()
    fixed = set(G.layers.fixed)
    out = {}
    for key, value in sd.items():
        if key in fixed or not value.is_floating_point():
            out[key] = value.clone()
        elif G.layers.kind_of(key) == "stat":            # magnitude_ema must stay positive
            out[key] = value * (1.0 + 0.3 * torch.rand(value.shape, generator=gen))
        else:
            noise = torch.randn(value.shape, generator=gen)
            out[key] = value + scale * (value.std() if value.numel() > 1 else value.abs() + 0.1) * noise
    return engine.build_generator(G.init_kwargs, out)


@pytest.fixture(scope="session")
def sg2_pair(oracle):
    return oracle_model(oracle, "sg2_64_A"), oracle_model(oracle, "sg2_64_B")


@pytest.fixture(scope="session")
def sg3_models(oracle):
    A = oracle_model(oracle, "sg3t_64_A")
    return A, perturbed(A, 1), perturbed(A, 2)
