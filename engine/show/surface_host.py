"""The control surface's view of a running :class:`~engine.show.show.Show` (``engine.surface.SurfaceHost``).

Everything a page or an OSCQuery client can reach goes through here: the registry, the show's actions,
the preset names, and model swaps restricted to the files the engine was started with or found in
``--models-dir``; never a path typed in a page.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

MODEL_SUFFIXES = (".pkl", ".pt", ".pth", ".safetensors")


class ShowSurfaceHost:
    """A :class:`~engine.surface.host.SurfaceHost` over a show."""

    def __init__(self, show, models_dir: str | Path | None = None, autosaver=None):
        self.show = show
        self.registry = show.registry
        self.actions = show.actions
        self.started_with = [str(p) for p in show.model_paths]
        self.models_dir = Path(models_dir).expanduser() if models_dir else None
        self.autosaver = autosaver

    def subscribe_changes(self):
        return self.show.changes.subscribe()

    def list_presets(self) -> list[str]:
        return self.show.presets.list()

    def models(self) -> list[str]:
        return [str(p) for p in self.show.model_paths] or ["demo A", "demo B"]

    def model_choices(self) -> list[str]:
        found = []
        if self.models_dir is not None and self.models_dir.is_dir():
            found = sorted(str(p) for p in self.models_dir.iterdir()
                           if p.is_file() and p.name.lower().endswith(MODEL_SUFFIXES))
        return list(dict.fromkeys(self.started_with + found))

    def swap_models(self, paths: Sequence[str]) -> None:
        allowed = set(self.model_choices())
        if all(str(p) in allowed for p in paths):        # the surface checks too; a host never trusts a page
            self.show.swap_models(list(paths))

    def layer_resolutions(self) -> list[int]:
        return [int(entry.resolution) for entry in self.show.renderer.blended.layers]

    def fps(self) -> float:
        return self.show.loop.stats.fps_at(self.show.clock.now()) or 0.0

    def frame_ms(self) -> float:
        return self.show.loop.stats.percentile_ms(50)

    def autosave_status(self) -> str:
        saver = self.autosaver
        if saver is None:
            return "off"
        last = getattr(saver, "last_saved", None)
        when = time.strftime("%H:%M:%S", time.localtime(last)) if last else "not yet"
        return f"every {saver.interval:g} s, last {when}"
