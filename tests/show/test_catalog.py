"""The show's parameter catalog follows the models: layer count, model count, family."""

from engine.blend.generator import BlendedGenerator
from engine.show.catalog import build_registry
from tests.show.test_loop import tiny_pair


def test_catalog_follows_the_model_set_across_a_swap():
    a, b = tiny_pair()
    c = tiny_pair(seed=3)[1]
    three = BlendedGenerator([a, b, c])
    registry = build_registry(three)
    n = len(a.layers)
    assert f"blend.layer.{n - 1}" in registry and f"blend.layer.{n}" not in registry
    assert "blend.model.2" in registry and "latent.psi" in registry and "tempo.bpm" in registry
    registry.set("latent.psi", 0.4)
    build_registry(BlendedGenerator([a, b]), registry)      # swap to a pair: C's fader goes, values stay
    assert "blend.model.2" not in registry
    assert registry.get("latent.psi") == 0.4
