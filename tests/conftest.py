"""Shared test setup: resource markers that skip with a reason (or fail with --require-*), and the
oracle folder of official reference outputs (``tests/data/oracle``, shipped with the tests)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ORACLE = Path(os.environ.get("NETBLEND_ORACLE", ROOT / "tests" / "data" / "oracle"))

# One thread: tiny test tensors stall in the thread pool's synchronisation on a busy 2-core machine.
torch.set_num_threads(1)
# Caches and user state of the tests go to scratch folders, never the user's own (or the checkout).
os.environ["NETBLEND_CACHE"] = tempfile.mkdtemp(prefix="netblend-test-cache-")
os.environ["NETBLEND_HOME"] = tempfile.mkdtemp(prefix="netblend-test-home-")


def pytest_addoption(parser):
    for res in ("gpu", "display", "midi", "browser"):
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


def browser_problem() -> str | None:
    """Why the browser tests cannot run here (Debian's chromium driven by Playwright), or None."""
    import shutil

    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


def pytest_runtest_setup(item):
    if item.get_closest_marker("gpu") and gpu_device() is None:
        missing_resource(item.config, "gpu", "no CUDA or MPS device on this machine")
    if item.get_closest_marker("browser"):
        problem = browser_problem()
        if problem:
            missing_resource(item.config, "browser", problem)


@pytest.fixture(autouse=True)
def _no_tf32_in_gpu_tests(request):
    """fp32 parity on a GPU means fp32: TF32 off in matmuls and convolutions for every gpu test (restored
    after), so a result never depends on which test ran before."""
    if request.node.get_closest_marker("gpu") is None:
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(scope="session")
def oracle() -> Path:
    """The folder of official reference outputs (shipped under tests/data/oracle)."""
    assert (ORACLE / "README.md").exists(), f"oracle folder {ORACLE} is missing; it ships with the tests"
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
