"""Shared test setup: resource markers that skip with a reason (or fail with --require-*), and the
oracle folder of official reference outputs (../shared/oracle beside the project root)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ORACLE = Path(os.environ.get("NETBLEND_ORACLE", ROOT.parent / "shared" / "oracle"))

# One thread: tiny test tensors stall in the thread pool's synchronisation on a busy 2-core machine.
torch.set_num_threads(1)
# Converted-model caches of the tests go to a scratch folder, never the user's ~/.cache/netblend.
os.environ["NETBLEND_CACHE"] = tempfile.mkdtemp(prefix="netblend-test-cache-")


def pytest_addoption(parser):
    for res in ("gpu", "display", "midi"):
        parser.addoption(f"--require-{res}", action="store_true",
                         help=f"fail (instead of skip) tests marked {res} when the resource is absent")


def missing_resource(config, marker: str, reason: str):
    """Skip a test for a missing resource, or fail it when the run demands that resource."""
    if config.getoption(f"--require-{marker}"):
        pytest.fail(f"{marker} required (--require-{marker}) but unavailable: {reason}", pytrace=False)
    pytest.skip(f"{marker} unavailable: {reason}")


def gpu_device() -> str | None:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return None


def pytest_runtest_setup(item):
    if item.get_closest_marker("gpu") and gpu_device() is None:
        missing_resource(item.config, "gpu", "no CUDA or MPS device on this machine")


@pytest.fixture(scope="session")
def oracle() -> Path:
    """The folder of official reference outputs; tests using it skip where it is absent."""
    if not (ORACLE / "README.md").exists():
        pytest.skip(f"oracle folder {ORACLE} is absent (set NETBLEND_ORACLE to its path)")
    return ORACLE


def oracle_generator(oracle: Path, name: str):
    """The oracle model ``name`` (e.g. ``sg2_64_A``) built from its kwargs and state dict."""
    import json

    import numpy as np

    from engine.models.build import build_generator

    kwargs = json.loads((oracle / f"{name}.json").read_text())["init_kwargs"]
    return build_generator(kwargs, dict(np.load(oracle / f"{name}.npz")))


@pytest.fixture
def device(request) -> str:
    """The GPU device for tests marked gpu."""
    dev = gpu_device()
    assert dev is not None
    return dev
