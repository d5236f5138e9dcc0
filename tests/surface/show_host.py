"""A real SurfaceHost for the tests: a real registry over a tiny blended pair, a real render loop on its
own thread sending frames to the surface's preview, and actions that record what they were asked."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import torch

from engine.core.clock import Clock
from engine.core.params import ChangeFanout
from engine.show.build import build_renderer
from engine.show.catalog import build_registry
from engine.show.loop import RenderLoop, SinkSet
from tests.helpers import RecordingActions, tiny_pair


class ShowHost:
    """The SurfaceHost protocol over a real registry and renderer (what the Show implements)."""

    def __init__(self, presets: Sequence[str] = ("dusk", "warm"),
                 choices: Sequence[str] = ("models/a.pt", "models/b.pt", "models/c.pt")):
        self.renderer = build_renderer(tiny_pair(), torch.device("cpu"))
        self.registry = build_registry(self.renderer.blended)
        self.fanout = ChangeFanout(self.registry)
        self.actions = RecordingActions()
        self.presets = list(presets)
        self.choices = list(choices)
        self.loaded = list(choices[:2])
        self.swaps: list[list[str]] = []
        self.loop: RenderLoop | None = None
        self._thread: threading.Thread | None = None

    # -- SurfaceHost ------------------------------------------------------------------------------
    def subscribe_changes(self):
        return self.fanout.subscribe()

    def list_presets(self) -> list[str]:
        return list(self.presets)

    def models(self) -> list[str]:
        return list(self.loaded)

    def model_choices(self) -> list[str]:
        return list(self.choices)

    def swap_models(self, paths) -> None:
        self.swaps.append(list(paths))

    def layer_resolutions(self) -> list[int]:
        return [entry.resolution for entry in self.renderer.blended.layers]

    def fps(self) -> float:
        return self.loop.stats.recent_fps if self.loop else 0.0

    def frame_ms(self) -> float:
        return self.loop.stats.percentile_ms(50) if self.loop else 0.0

    def autosave_status(self) -> str:
        return "every 30 s, last 12:00:00"

    # -- a real render loop feeding the surface ----------------------------------------------------
    def play(self, surface, fps: float = 30.0) -> None:
        """Render frames on a thread: the preview sink gets them, ``surface.on_frame`` runs after each."""
        self.loop = RenderLoop(self.registry, self.renderer, SinkSet([surface.preview]), clock=Clock(), fps=fps)
        self.loop.hooks.after_frame.append(lambda frame, ft: surface.on_frame())
        self._thread = threading.Thread(target=self.loop.run, name="test-render", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.stop()
            self._thread.join(10)
            self.loop.sinks.close()
