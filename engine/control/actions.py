"""What a control can do besides writing a parameter: recall or save a preset, tap tempo, panic.

The OSC and MIDI adapters receive an :class:`Actions` object and call it; the engine wires it to the
preset manager, the tempo tracker and the blend panic. Tests pass a recording subclass. Every method
returns quickly (work that takes time, like a model load for a preset, happens off the control thread).
"""

from __future__ import annotations


class Actions:
    """Default actions: each one does nothing, so an adapter can run without an engine attached."""

    def recall_preset(self, name: str, morph: float | None = None) -> None:
        """Recall preset ``name`` now, or morph to it over ``morph`` seconds (beats when tempo-synced)."""

    def save_preset(self, name: str) -> None:
        """Save the live state as preset ``name``."""

    def tap_tempo(self) -> None:
        """One tap of tap tempo."""

    def panic(self) -> None:
        """Return to the last preset (or model A) at once."""

    def learn_midi(self, param: str) -> None:
        """Bind the next MIDI control moved to parameter ``param`` (learn mode while running)."""
