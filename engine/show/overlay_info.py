"""What the window's overlay shows, read from a running show (render thread, only while it is on)."""

from __future__ import annotations

from ..sinks.overlay import OverlayInfo, Pickup


class OverlaySource:
    """``source()`` -> the :class:`~engine.sinks.overlay.OverlayInfo` of ``show`` now. Reads only."""

    def __init__(self, show):
        self.show = show

    def __call__(self) -> OverlayInfo:
        show = self.show
        registry = show.registry
        state = show.renderer.blend_state
        mask = list(state.layers) if state is not None else []
        faders: list[float | None] = []               # a tick where a layer's own fader holds it
        if state is not None and state.faders:
            holds = state.holds or (1.0,) * len(state.faders)
            faders = [f if state.mode != "absolute" or h > 0 else None for f, h in zip(state.faders, holds)]
        walk = ""
        if "latent.walk.mode" in registry:
            mode_spec = registry.spec("latent.walk.mode")
            mode = mode_spec.choices[int(registry.get("latent.walk.mode"))]
            if mode != "off":
                unit = "beats" if registry.get("latent.walk.beats") > 0.5 else "s"
                walk = f"{mode}, {registry.get('latent.walk.period'):g} {unit}"
            else:
                walk = "off"
        midi = show.midi
        pickup = [Pickup(*w) for w in midi.pickup_waiting()] if midi is not None else []
        return OverlayInfo(
            fps=show.loop.stats.recent_fps,
            paused=registry.get("engine.pause") > 0.5,
            mask=mask,
            faders=faders,
            seed=int(registry.get("latent.seed")) if "latent.seed" in registry else None,
            preset=show.preset_name,
            walk=walk,
            bpm=registry.get("tempo.bpm"),
            pickup=pickup,
        )
