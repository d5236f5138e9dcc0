"""The show: the one object that a performance, an offline render and the benchmark all run.

:class:`Show` owns the registry, the render loop, the presets, the tempo and the model swaps of one
performance, and the lifetimes of everything attached to it. Control threads reach it only through
registry writes and :class:`~engine.show.actions.ShowActions`; anything that changes render state
(a preset's keyframes, a model swap, a morph step, the tempo) happens at the frame boundary, on the
render thread, before the snapshot. Parts plug in with :meth:`Show.attach` (an object with any of
``before_frame(ft)``, ``after_snapshot(snap, ft)``, ``after_frame(frame, ft)``, ``close()``), outputs
with :meth:`Show.add_sink`, anything else that must stop at the end with :meth:`Show.add_closer`.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..core.clock import Clock, FrameTime
from ..core.params import SHOW_SOURCE, ChangeFanout, ParamRegistry
from ..errors import NetblendError
from ..sinks.base import Sink
from .actions import ControlWorker, ShowActions
from .catalog import build_registry
from .loop import RenderLoop, SinkSet
from .modulators import Modulation
from .preset_file import Preset
from .presets import PresetManager
from .render import Renderer
from .swap import ModelSwapper, SwapResult, describe
from .tempo import TempoTracker

log = logging.getLogger("netblend")


class Show:
    """Models, registry, loop and controls of one performance (or one offline render)."""

    def __init__(self, renderer: Renderer, device: torch.device, *, clock: Clock | None = None,
                 fps: float | None = None, model_paths: Sequence[str | Path] = (),
                 presets_dir: str | Path | None = None, registry: ParamRegistry | None = None,
                 shipped_presets: Sequence[Path] | None = None, build: Callable[..., Renderer] | None = None):
        self.device = device
        self.clock = clock or Clock()
        self.model_paths = [Path(p) for p in model_paths]
        self.keyframes: list = []
        self.registry = build_registry(renderer.blended, registry)
        self.registry.clock = self.clock.now
        self.presets = PresetManager(presets_dir, self.registry, live_state=self._live_state,
                                     shipped=shipped_presets, layers=lambda: self.renderer.blended.layers)
        self.tempo = TempoTracker()
        self.changes = ChangeFanout(self.registry)        # changed values for every feedback consumer
        self.actions = ShowActions(self)
        self.worker = ControlWorker()
        self.swapper = ModelSwapper()
        self.loop = RenderLoop(self.registry, renderer, SinkSet(), clock=self.clock, fps=fps,
                               triggers=self._triggers(renderer))
        self.loop.hooks.before_frame.append(self._frame_boundary)
        self.modulation = Modulation()                     # LFOs and envelope followers ([[mod]] tables)
        self.mapping_mods: tuple = ()                      # from the mapping files: kept across recalls
        self.preset_mods: tuple = ()                       # from the last recalled preset
        self.loop.hooks.transforms.append(lambda values, ft: self.modulation.apply(values, ft))
        self.recorders: list = []                          # ControlRecorders: told about recalls and swaps
        self.replaying = False                             # a control log drives swaps (render --controls)
        self.midi = None                                   # a LiveMidi once controllers are opened
        self.osc = None                                    # the OscAdapter once OSC input is open
        self.osc_address: tuple[str, int] | None = None    # where OSC input listens
        self.surface = None                                # the control page / OSCQuery server, when on
        self._build = build                                # models -> renderer (swaps); see engine.show.build
        self._boundary: queue.SimpleQueue[Callable[[FrameTime], None]] = queue.SimpleQueue()
        self._closers: list[Callable[[], None]] = [lambda: self.renderer.close(), self.worker.close,
                                                   self.swapper.close]
        self._last_preset: dict[str, float] | None = None
        self.preset_name: str | None = None                # the last preset recalled (the overlay shows it)
        self._relayer: Preset | None = None              # a recall whose own model swap is loading
        self._seed_seen = self.registry.get("latent.seed")

    # ------------------------------------------------------------------ assembly
    @property
    def renderer(self) -> Renderer:
        return self.loop.renderer

    def add_sink(self, sink: Sink) -> Sink:
        """Send every frame to ``sink`` too (opened now when the show is already running)."""
        self.loop.sinks.add(sink)
        return sink

    def add_closer(self, closer: Callable[[], None]) -> None:
        """Call ``closer()`` when the show ends (in reverse order of adding)."""
        self._closers.append(closer)

    def attach(self, part: Any) -> Any:
        """Plug in a part: its ``before_frame``, ``after_snapshot``, ``after_frame`` run every frame
        and its ``close`` at the end. Returns ``part``. A part's ``before_frame`` runs before the
        show's own frame boundary (so a replayed recall, a Link tempo, ... take effect in that frame)."""
        hooks = self.loop.hooks
        before = getattr(part, "before_frame", None)
        if callable(before):
            hooks.before_frame.insert(hooks.before_frame.index(self._frame_boundary), before)
        for name, hook_list in (("after_snapshot", hooks.after_snapshot), ("after_frame", hooks.after_frame)):
            method = getattr(part, name, None)
            if callable(method):
                hook_list.append(method)
        if callable(getattr(part, "event", None)):
            self.recorders.append(part)
        if callable(getattr(part, "close", None)):
            self.add_closer(part.close)
        return part

    def at_frame_boundary(self, fn: Callable[[FrameTime], None]) -> None:
        """Run ``fn(frame_time)`` on the render thread before the next snapshot."""
        self._boundary.put(fn)

    def _live_state(self) -> dict:
        return {"models": {chr(ord("A") + i): str(p) for i, p in enumerate(self.model_paths)},
                "keyframes": list(self.keyframes), "mods": tuple(self.preset_mods)}

    def set_modulators(self, preset_mods: Sequence | None = None, mapping_mods: Sequence | None = None) -> None:
        """Replace the modulators (before the show runs, or at a frame boundary): the mapping files'
        and the preset's ``[[mod]]`` tables. Declares their ``mod.*`` parameters and binds their routes;
        raises :class:`~engine.errors.ModulationError` (and changes nothing) when a route is bad."""
        preset = tuple(self.preset_mods if preset_mods is None else preset_mods)
        mapping = tuple(self.mapping_mods if mapping_mods is None else mapping_mods)
        modulation = Modulation(mapping + preset)
        modulation.bind(self.registry)
        specs = modulation.params()
        wanted = {spec.name for spec in specs}
        self.registry.remove(n for n in self.registry.names("mod.") if n not in wanted)
        self.registry.add_all(specs)
        for name in [n for n in self.loop.triggers if n.startswith("mod.")]:
            del self.loop.triggers[name]
        for name, action in modulation.trigger_actions().items():
            self.loop.triggers[name] = (lambda act: lambda stamp: act())(action)
        self.modulation, self.preset_mods, self.mapping_mods = modulation, preset, mapping

    # ------------------------------------------------------------------ the frame boundary (render thread)
    def _frame_boundary(self, ft: FrameTime) -> None:
        while True:
            try:
                fn = self._boundary.get_nowait()
            except queue.Empty:
                break
            try:
                fn(ft)
            except Exception as e:  # a change that cannot apply is dropped; the show goes on
                log.warning("a change at the frame boundary failed and was dropped: %s", e)
        ready = self.swapper.poll()
        if ready is not None:
            self._switch(ready, ft)
        morph = self.presets.morph
        if morph is not None and not morph.step_frame(ft):
            self.presets.morph = None
        seed = self.registry.get("latent.seed")
        if seed != self._seed_seen:                        # a new seed leaves a preset's keyframe walk
            self._seed_seen = seed
            if self.keyframes:
                self._set_keyframes([], [])
        self.clock.bpm = self.registry.get("tempo.bpm")

    def _switch(self, ready: SwapResult, ft: FrameTime) -> None:
        old, self.loop.renderer = self.loop.renderer, ready.renderer
        old.close()
        self.model_paths = list(ready.paths)
        self.keyframes = list(ready.keyframes)
        build_registry(ready.renderer.blended, self.registry)
        self.loop.triggers.update(self._triggers(ready.renderer))
        self.modulation.rebind(self.registry)
        self.registry.jump()
        if self._relayer is not None:                      # the recall's masks, laid on the new layer table
            self.presets.apply_layers(self._relayer)
            self._last_preset, self._relayer = dict(self.presets.applied), None
        log.info("now playing %s", describe(self.model_paths))
        self._tell("swap", ft, {"models": [str(p) for p in self.model_paths], "keyframes": _plain(self.keyframes)})

    def _tell(self, kind: str, ft: FrameTime, payload: Mapping[str, Any]) -> None:
        stamp = self.clock.now()
        for recorder in self.recorders:
            recorder.event(ft, stamp, kind, payload)

    def _triggers(self, renderer: Renderer) -> dict[str, Callable[[float], None]]:
        internal = (SHOW_SOURCE, "trigger")
        triggers: dict[str, Callable[[float], None]] = {"blend.panic": lambda stamp: self.panic(),
                                                        "blend.release": lambda stamp: self.release(),
                                                        "tempo.tap": self._tap}
        def step_seed(delta: int) -> Callable[[float], None]:
            def step(stamp: float) -> None:
                self.registry.set("latent.seed", self.registry.get("latent.seed") + delta, internal)
            return step

        for name, delta in (("latent.next_seed", 1), ("latent.prev_seed", -1)):
            if name in self.registry:
                triggers[name] = step_seed(delta)
        return triggers

    def _tap(self, stamp: float) -> None:
        bpm = self.tempo.tap(stamp)
        if bpm is not None:
            self.registry.set("tempo.bpm", bpm, (SHOW_SOURCE, "tap"))

    # ------------------------------------------------------------------ actions
    def panic(self) -> None:
        """Back to the last recalled preset at once, or to model A when none was recalled."""
        from ..blend.masks import panic_values

        self.presets.morph = None
        values = self._last_preset or panic_values(len(self.renderer.blended.layers))
        self.registry.update(values, source=(SHOW_SOURCE, "panic"))
        self.registry.jump(values)

    def release(self) -> None:
        """Every layer back to the curve (``blend.release``): the faders let go."""
        from ..blend.masks import release_values

        values = release_values(self.registry.targets(), len(self.renderer.blended.layers))
        self.registry.update(values, source=(SHOW_SOURCE, "release"))

    def read_preset(self, name_or_path: str | Path, allow_path: bool = False) -> Preset:
        """A preset by name (user folder, then the shipped examples), or by path where allowed (the
        command line). Network controls pass names only."""
        path = Path(name_or_path)
        if allow_path and (path.suffix == ".toml" or path.exists()):
            return Preset.read(path)
        return self.presets.load(str(name_or_path))

    def recall(self, name_or_path: str | Path | Preset, morph: float | None = None,
               allow_path: bool = False, unit: str | None = None) -> Preset:
        """Read a preset on this (control) thread, then apply it at the next frame boundary: values
        now or morphed over ``morph`` (default: the live ``preset.morph``, in beats when
        ``preset.morph.beats`` is on), keyframes exactly as the preset lists them (none clears them),
        and its models (loaded off the render thread, switched when ready)."""
        preset = name_or_path if isinstance(name_or_path, Preset) else self.read_preset(name_or_path, allow_path)
        if morph is None:
            morph = self.registry.get("preset.morph") or None
        if unit is None:
            unit = "beats" if self.registry.get("preset.morph.beats") > 0.5 else "seconds"
        keyframes = self._read_keyframes(preset)
        self.at_frame_boundary(lambda ft: self._apply_preset(preset, morph, unit, keyframes, ft))
        return preset

    def _read_keyframes(self, preset: Preset) -> list:
        latents = self.renderer.latents
        return [latents.keyframe(k) for k in preset.keyframes]       # W files are read here, not in the loop

    def _apply_preset(self, preset: Preset, morph: float | None, unit: str, keyframes: list,
                      ft: FrameTime | None) -> None:
        if tuple(preset.mods) != self.preset_mods:
            try:
                self.set_modulators(preset_mods=preset.mods)
            except NetblendError as e:          # a bad route: the old modulators keep playing
                log.warning("preset %s: modulators not changed: %s", preset.name, e)
        self.presets.apply(preset, morph, unit)
        self.preset_name = preset.name
        self._last_preset = dict(self.presets.applied)
        self._seed_seen = self.registry.get("latent.seed")
        models = [Path(p) for p in preset.models.values()]
        self._relayer = None
        if models and [p.resolve() for p in models] != [p.resolve() for p in self.model_paths]:
            if not self.replaying:
                self.swap_models(models, keyframes=preset.keyframes)
            self._relayer = preset
        else:
            self._set_keyframes(list(preset.keyframes), keyframes)
        if ft is not None:
            self._tell("recall", ft, {"preset": preset.to_dict(Path("/")), "morph": morph or 0.0, "unit": unit})

    def apply_now(self, preset: Preset) -> None:
        """Apply a preset at once, before the show runs (start-up ``--preset``, ``--resume``)."""
        self._apply_preset(preset, None, "seconds", self._read_keyframes(preset), None)

    def _set_keyframes(self, items: list, ready: list) -> None:
        self.keyframes = items
        self.renderer.latents.set_keyframes(ready)

    def swap_models(self, paths: Sequence[str | Path], keyframes: Sequence = ()) -> int:
        """Load new models off the render thread; the loop switches to them at a frame boundary.
        The newest request wins; a failed load leaves the current models playing."""
        if self._build is None:
            raise RuntimeError("this show was built without a model loader (see engine.show.build.build_show)")
        build, size = self._build, (self.renderer.width, self.renderer.height)
        self._relayer = None                               # a newer swap: no recall's layers to lay on it
        files, frames = [Path(p) for p in paths], list(keyframes)

        def work() -> SwapResult:
            return SwapResult(build(files, self.device, size, frames, self.registry.targets()), files, frames)

        return self.swapper.request(work, describe(files))

    def replay_event(self, kind: str, payload: Mapping[str, Any], ft: FrameTime) -> None:
        """Apply a logged show event (a recall, a swap) during a replay, on the render thread."""
        if kind == "recall":
            preset = Preset.from_dict(payload["preset"], Path("/preset.toml"))
            self._apply_preset(preset, payload.get("morph") or None, str(payload.get("unit", "seconds")),
                               self._read_keyframes(preset), ft)
        elif kind == "swap" and self._build is not None:
            paths = [Path(p) for p in payload.get("models", [])]
            keyframes = [k if isinstance(k, int) else Path(k) for k in payload.get("keyframes", [])]
            size = (self.renderer.width, self.renderer.height)
            renderer = self._build(paths, self.device, size, keyframes, self.registry.targets())
            self._switch(SwapResult(renderer, paths, keyframes), ft)

    # ------------------------------------------------------------------ lifetime
    def run(self, seconds: float | None = None, frames: int | None = None):
        """Play until stopped (or for ``seconds`` / ``frames``); always closes the show."""
        try:
            return self.loop.run(seconds=seconds, frames=frames)
        finally:
            self.close()

    def close(self) -> None:
        """Close the outputs, then everything attached (newest first). Idempotent."""
        self.loop.sinks.close()
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            try:
                closer()
            except Exception as e:
                log.warning("shutting down %s failed: %s", getattr(closer, "__qualname__", closer), e)


def _plain(items: Sequence) -> list:
    return [k if isinstance(k, int) else str(k) for k in items]
