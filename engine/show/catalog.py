"""Every live parameter of a show, gathered from the parts that use them.

The blend masks declare ``blend.*`` for the current layer count, the latent engine declares
``latent.*`` for the current model, and the engine itself declares ``engine.*``, ``tempo.*`` and
``preset.*``. OSC addresses, MIDI bindings and presets all speak these names.
"""

from __future__ import annotations

from ..core.params import ParamRegistry, ParamSpec


def engine_params() -> list[ParamSpec]:
    """Parameters of the engine itself (not of blending or latents)."""
    return [
        ParamSpec("engine.pause", 0.0, kind="bool", doc="freeze the show (walks stop, the last frame stays)"),
        ParamSpec("engine.overlay", 0.0, kind="bool", doc="window overlay with fps and the blend mask"),
        ParamSpec("engine.snapshot", kind="trigger", doc="save the current frame as a PNG"),
        ParamSpec("tempo.bpm", 120.0, 20.0, 300.0, doc="tempo for walks and morphs in beats"),
        ParamSpec("tempo.tap", kind="trigger", doc="tap tempo"),
        ParamSpec("preset.morph", 0.0, 0.0, 64.0, doc="seconds (or beats) a preset recall morphs over"),
        ParamSpec("preset.morph.beats", 0.0, kind="bool", doc="preset.morph counts beats instead of seconds"),
    ]


def show_params(num_layers: int, generator) -> list[ParamSpec]:
    """All parameters of a show over ``generator`` (a Generator or BlendedGenerator)."""
    from ..blend.masks import params as blend_params
    from ..control.audio import params as audio_params
    from ..latents import params as latent_params
    from ..models.bending import params as bend_params

    num_models = getattr(generator, "num_models", 2)
    return (engine_params() + list(blend_params(num_layers, num_models)) + list(latent_params(generator))
            + list(bend_params(num_layers)) + audio_params())


def build_registry(generator, registry: ParamRegistry | None = None) -> ParamRegistry:
    """Declare a show's parameters in ``registry`` (a new one by default), keeping current values.

    Re-declaring after a model swap keeps every value that still exists, and drops the per-layer and
    per-model parameters the new models lack (``blend.layer.<i>``, ``blend.hold.<i>``, ``bend.<i>.*``, a
    family's latents).
    """
    registry = registry or ParamRegistry()
    num_layers = len(generator.layers)
    specs = show_params(num_layers, generator)
    wanted = {s.name for s in specs}
    model_dependent = ("blend.layer.", "blend.hold.", "blend.model.", "bend.", "latent.")
    registry.remove(n for n in registry.names() if n.startswith(model_dependent) and n not in wanted)
    registry.add_all(specs)
    return registry
