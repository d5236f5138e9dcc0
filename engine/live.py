"""A live show: the render loop plus everything that talks to it (presets, tempo, OSC, MIDI, autosave).

:class:`LiveShow` wires the parts together and owns their lifetimes; the loop itself stays tiny.
Control threads reach the show through :class:`ShowActions` (preset recall/save, tap, panic) and
parameter writes; anything that must change render state (new keyframes, a model swap) is handed
to the loop's frame boundary, never done from a control thread.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .control.actions import Actions
from .core.catalog import build_registry
from .core.clock import Clock, FrameTime
from .core.loop import RenderLoop, SinkSet
from .core.params import ParamRegistry
from .core.render import Renderer
from .core.show import build_renderer, load_models
from .sinks.base import Sink

log = logging.getLogger("netblend")
PROJECT_PRESETS = Path(__file__).resolve().parents[1] / "presets"


def default_presets_dir() -> Path:
    """``$NETBLEND_PRESETS``, else the project's ``presets/`` (a source checkout), else a user folder."""
    if os.environ.get("NETBLEND_PRESETS"):
        return Path(os.environ["NETBLEND_PRESETS"])
    if PROJECT_PRESETS.is_dir() and os.access(PROJECT_PRESETS, os.W_OK):
        return PROJECT_PRESETS
    return Path.home() / ".local" / "share" / "netblend" / "presets"


def find_preset(name_or_path: str | Path, folder: str | Path | None = None):
    """A preset by file path (``.toml`` or an existing file) or by name in ``folder``."""
    from .control.presets import PresetManager, check_name

    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = Path(folder or default_presets_dir()) / f"{check_name(str(name_or_path))}.toml"
    return PresetManager.load_path(path)


class ShowActions(Actions):
    """What OSC addresses, MIDI buttons and window keys can do besides writing a parameter."""

    def __init__(self, show: LiveShow):
        self.show = show

    def recall_preset(self, name: str, morph: float | None = None) -> None:
        try:
            self.show.recall(name, morph)
        except Exception as e:  # a bad preset name from a controller must not stop anything
            log.warning("preset %r not recalled: %s", name, e)

    def save_preset(self, name: str) -> None:
        try:
            path = self.show.presets.save(name)
            log.info("saved preset %s", path)
        except Exception as e:
            log.warning("preset %r not saved: %s", name, e)

    def tap_tempo(self) -> None:
        self.show.registry.set("tempo.tap", 1.0, source="action")

    def panic(self) -> None:
        self.show.registry.set("blend.panic", 1.0, source="action")

    def learn_midi(self, param: str) -> None:
        if self.show.midi is None:
            log.warning("MIDI learn needs an open controller: start with --mapping FILE or --midi-port REGEX")
        else:
            self.show.midi.learn(param)


class LiveShow:
    """Models, registry, loop and controls of one performance."""

    def __init__(self, renderer: Renderer, sinks: Sequence[Sink], device: torch.device,
                 model_paths: Sequence[str | Path] = (), fps: float | None = None,
                 clock: Clock | None = None, presets_dir: str | Path | None = None,
                 registry: ParamRegistry | None = None):
        from .control.presets import PresetManager
        from .control.tempo import TempoTracker

        self.device = device
        self.model_paths = [Path(p) for p in model_paths]
        self.keyframes: list = []
        self.registry = build_registry(renderer.blended, registry)
        self.presets = PresetManager(presets_dir or default_presets_dir(), self.registry,
                                     live_state=self._live_state)
        self.tempo = TempoTracker(on_change=lambda bpm: self.registry.set("tempo.bpm", bpm, source="tempo"))
        self.actions = ShowActions(self)
        self.midi = None                                   # a LiveMidi once controllers are opened
        self._boundary: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._last_preset: dict[str, float] | None = None
        self._frame_hooks: list[Callable[[FrameTime], None]] = [self._frame_boundary]
        self.loop = RenderLoop(self.registry, renderer, SinkSet(sinks), clock=clock, fps=fps,
                               triggers=self._triggers(renderer), on_frame=self._on_frame,
                               on_swap=self._on_swap)
        self.closers: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ state
    @property
    def renderer(self) -> Renderer:
        return self.loop.renderer

    def _live_state(self) -> dict:
        return {"models": {chr(ord("A") + i): str(p) for i, p in enumerate(self.model_paths)},
                "keyframes": list(self.keyframes)}

    def add_frame_hook(self, hook: Callable[[FrameTime], None]) -> None:
        """Call ``hook(frame_time)`` after every frame (control recorder, ...)."""
        self._frame_hooks.append(hook)

    def at_frame_boundary(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the render thread between two frames (safe for render state)."""
        self._boundary.put(fn)

    # ------------------------------------------------------------------ per-frame hooks (render thread)
    def _on_frame(self, ft: FrameTime) -> None:
        for hook in self._frame_hooks:
            hook(ft)

    def _frame_boundary(self, ft: FrameTime) -> None:
        while True:
            try:
                fn = self._boundary.get_nowait()
            except queue.Empty:
                break
            try:
                fn()
            except Exception as e:  # a change that cannot apply is dropped; the show goes on
                log.warning("a change at the frame boundary failed and was dropped: %s", e)
        morph = self.presets.morph
        if morph is not None and not morph.step_frame(ft):
            self.presets.morph = None
        self.loop.clock.bpm = self.registry.get("tempo.bpm")

    def _triggers(self, renderer: Renderer) -> dict[str, Callable[[], None]]:
        triggers = {"blend.panic": self.panic, "tempo.tap": self._tap}
        triggers.update(renderer.latents.trigger_actions(self.registry))
        return triggers

    def _on_swap(self, renderer: Renderer) -> None:
        build_registry(renderer.blended, self.registry)
        self.loop.triggers.update(self._triggers(renderer))
        log.info("now playing %s", ", ".join(str(p) for p in self.model_paths) or "the demo pair")

    def _tap(self) -> None:
        self.tempo.tap(time.monotonic())

    # ------------------------------------------------------------------ actions
    def panic(self) -> None:
        """Back to the last recalled preset at once, or to model A when none was recalled."""
        from .blend.masks import panic_values

        self.presets.morph = None
        values = self._last_preset or panic_values(len(self.renderer.blended.layers))
        self.registry.update(values, source="panic")
        self.registry.jump(values)

    def recall(self, name_or_path: str | Path, morph: float | None = None) -> None:
        """Recall a preset by name (presets folder) or path: values now or morphed over ``morph``
        (default: the live ``preset.morph``, in beats when ``preset.morph.beats`` is on); models and
        keyframes switched at a frame boundary (models load on a worker thread first)."""
        preset = find_preset(name_or_path, self.presets.folder)
        if morph is None:
            morph = self.registry.get("preset.morph") or None
        unit = "beats" if self.registry.get("preset.morph.beats") > 0.5 else "seconds"
        self.presets.apply(preset, morph, unit)
        self._last_preset = {n: v for n, v in preset.expanded(self.registry).items()
                             if n in self.registry and self.registry.spec(n).kind != "trigger"}
        models = list(preset.models.values())
        if models and [Path(p).resolve() for p in models] != [p.resolve() for p in self.model_paths]:
            self.swap_models(models, keyframes=preset.keyframes)
        elif preset.keyframes:
            latents = self.renderer.latents
            ready = [latents.keyframe(k) for k in preset.keyframes]   # files are read here, not in the loop
            self.keyframes = list(preset.keyframes)
            self.at_frame_boundary(lambda: latents.set_keyframes(ready))

    def swap_models(self, paths: Sequence[str | Path], keyframes: Sequence = ()) -> None:
        """Load new models off the render thread; the loop switches to them at a frame boundary.
        A failed load leaves the current models playing."""
        size = (self.renderer.width, self.renderer.height)

        def build() -> Renderer:
            renderer = build_renderer(load_models(paths, self.device), self.device, size=size,
                                      keyframes=list(keyframes) or None)
            self.model_paths = [Path(p) for p in paths]
            self.keyframes = list(keyframes)
            return renderer

        self.loop.swapper.request(build)

    # ------------------------------------------------------------------ lifetime
    def run(self, seconds: float | None = None):
        try:
            return self.loop.run(seconds=seconds)
        finally:
            self.close()

    def close(self) -> None:
        self.loop.sinks.close()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception as e:
                log.warning("shutting down %s failed: %s", getattr(closer, "__qualname__", closer), e)
        self.closers.clear()
