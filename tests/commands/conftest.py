"""Models saved in the netblend format for the CLI tests."""

import pytest

from engine.models.loaders import save_generator
from tests.conftest import oracle_generator


@pytest.fixture(scope="module")
def saved(oracle, tmp_path_factory):
    """sg2_64_A, sg2_64_B and a 32 px model saved in the netblend format: name -> path."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name in ("sg2_64_A", "sg2_64_B"):
        G = oracle_generator(oracle, name)
        paths[name] = str(save_generator(G, folder / f"{name}.netblend.safetensors"))
    from engine.models.build import build_generator

    small = build_generator({**G.init_kwargs, "img_resolution": 32})
    paths["small"] = str(save_generator(small, folder / "small.netblend.safetensors"))
    return paths
