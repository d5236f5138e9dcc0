"""The presets of a show: saved to the user's presets folder, recalled by name from it or from the
shipped examples, applied at once or as a morph, and the autosave for crash recovery.

- Saving writes ``<user presets folder>/<name>.toml`` atomically (a crash leaves the old file whole).
  The folder is ``--presets DIR``, else ``$NETBLEND_HOME/presets`` or the platform's user data folder
  (``engine.core.paths``). The project's ``presets/`` folder holds read-only examples, recalled by
  name like the user's own (the user's preset of the same name wins).
- Over OSC, MIDI and the control page a preset is a *name* (``check_name``): never a path. Only the
  command line takes paths (``netblend run --preset FILE``).
- :meth:`PresetManager.apply` runs on the render thread at a frame boundary (the show queues it):
  values at once (``update`` + ``jump``) or a :class:`~engine.show.morph.Morph` the show advances.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..control.toml_write import write_atomic
from ..core.params import SHOW_SOURCE, ParamError, ParamRegistry
from ..core.paths import shipped_dir, user_dir
from ..errors import PresetError
from .morph import Morph
from .preset_file import NOT_SAVED_PREFIXES, Preset, check_name, export_value

log = logging.getLogger("netblend.presets")

MAX_WARNINGS = 5                 # problems logged per preset recall; the rest are counted
STALE_TEMP_SECONDS = 60.0        # temp files of a save killed mid-write, removed at start-up


def default_presets_dir() -> Path:
    """``$NETBLEND_PRESETS``, else the user's presets folder (never the source tree)."""
    env = os.environ.get("NETBLEND_PRESETS")
    return Path(env) if env else user_dir("presets")


class PresetFolders:
    """Where presets are found: the user's folder first, then the shipped examples; and the autosave."""

    def __init__(self, folder: str | os.PathLike[str] | None = None, shipped: Sequence[Path] | None = None,
                 autosave_path: Path | None = None):
        self.folder = Path(folder) if folder is not None else default_presets_dir()
        self.shipped = list(shipped) if shipped is not None else [shipped_dir("presets")]
        self.autosave_path = autosave_path or user_dir("autosave.toml")

    def path_of(self, name: str) -> Path:
        """Where saving preset ``name`` writes."""
        return self.folder / f"{check_name(name)}.toml"

    def folders(self) -> list[Path]:
        return [self.folder, *(f for f in self.shipped if f.resolve() != self.folder.resolve())]

    def list(self) -> list[str]:
        """The names of every preset (the user's and the shipped examples), sorted."""
        names = {p.stem for folder in self.folders() if folder.is_dir()
                 for p in folder.glob("*.toml") if not p.name.startswith(".")}
        return sorted(names)

    def find(self, name: str) -> Path:
        """The file of preset ``name``: the user's folder first, then the shipped examples."""
        base = check_name(name)
        for folder in self.folders():
            path = folder / f"{base}.toml"
            if path.is_file():
                return path
        close = difflib.get_close_matches(base, self.list(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise PresetError(f"no preset named {base!r}; {hint}`netblend presets` lists them "
                          f"(saved ones live in {self.folder})")

    def load(self, name: str) -> Preset:
        """Read and check preset ``name``; raises :class:`PresetError`."""
        return Preset.read(self.find(name))

    def read_autosave(self) -> Preset | None:
        """The autosaved state; None when there is none or it cannot be read (said in the log)."""
        if not self.autosave_path.exists():
            return None
        try:
            return Preset.read(self.autosave_path)
        except PresetError as e:
            log.warning("the autosave could not be read, starting fresh: %s", e)
            return None

class PresetManager(PresetFolders):
    """Saves, finds and applies the presets of one show against its registry."""

    def __init__(self, folder: str | os.PathLike[str] | None, registry: ParamRegistry,
                 live_state: Callable[[], Mapping[str, object]] | None = None,
                 shipped: Sequence[Path] | None = None, autosave_path: Path | None = None,
                 layers: Callable[[], Sequence[object]] | None = None):
        """``live_state()`` gives what the registry cannot: ``{"models": {label: path},
        "keyframes": [seed or path, ...]}`` of the show now playing (the show provides it);
        ``layers()`` the layer table of the model playing (a preset's ``mask`` is laid on it)."""
        super().__init__(folder, shipped, autosave_path)
        self.registry = registry
        self.live_state = live_state
        self.layers = layers
        self.morph: Morph | None = None
        self.applied: dict[str, float] = {}      # the values the last apply wrote (panic returns to them)
        self._lock = threading.Lock()
        remove_stale_temp_files(self.folder)
        remove_stale_temp_files(self.autosave_path.parent)

    # ------------------------------------------------------------------ saving
    def capture(self, name: str, description: str = "") -> Preset:
        """The live state as a :class:`Preset` (not written)."""
        values = self.registry.targets()
        params: dict[str, float | int | bool | str] = {}
        for spec in self.registry:
            if (spec.kind == "trigger" or spec.readonly or spec.name.startswith(NOT_SAVED_PREFIXES)
                    or spec.name not in values):
                continue               # events, measured values and program settings are not state
            params[spec.name] = export_value(spec, values[spec.name])
        live: Mapping[str, object] = self.live_state() if self.live_state is not None else {}
        models = live.get("models") or {}
        keyframes = live.get("keyframes") or []
        mods = live.get("mods") or ()
        assert isinstance(models, Mapping) and isinstance(keyframes, (list, tuple)), "live_state() contract"
        return Preset(name, params,
                      models={str(label): Path(p) for label, p in models.items()},
                      keyframes=[k if isinstance(k, int) else Path(k) for k in keyframes],
                      description=description, mods=tuple(mods))  # type: ignore[arg-type]

    def save(self, name: str, description: str = "") -> Path:
        """Write the live state as preset ``name`` in the user's folder, atomically."""
        path = self.path_of(name)
        return self._write(self.capture(check_name(name), description), path)

    def _write(self, preset: Preset, path: Path) -> Path:
        with self._lock:
            write_atomic(path, preset.to_dict(path.parent), header="netblend preset")
        return path

    # ------------------------------------------------------------------ applying (render thread)
    def recall(self, name: str, morph_seconds: float | None = None, unit: str = "seconds") -> Preset:
        """Load preset ``name`` and :meth:`apply` it on this thread (Python scripts; a show recalls
        through ``Show.recall``, which also switches models and keyframes at a frame boundary)."""
        return self.apply(self.load(name), morph_seconds, unit)

    def apply(self, preset: Preset, morph_seconds: float | None = None, unit: str = "seconds") -> Preset:
        """Apply a loaded preset's values: at once, or as a morph over ``morph_seconds`` (or beats)."""
        source = (SHOW_SOURCE, "preset", preset.name)
        layers = self.layers() if self.layers is not None else None
        problems = preset.validate(self.registry, layers)
        for problem in problems[:MAX_WARNINGS]:
            log.warning("preset %s: %s (skipped)", preset.name, problem)
        if len(problems) > MAX_WARNINGS:
            log.warning("preset %s: %d more problems like these (skipped)", preset.name,
                        len(problems) - MAX_WARNINGS)
        targets = self._targets(preset.expanded(self.registry, layers))
        self.applied = dict(targets)
        if morph_seconds is None or morph_seconds <= 0:
            self.morph = None
            self.registry.update(targets, source)
            self.registry.jump(targets)
        else:
            self.morph = Morph(self.registry, targets, morph_seconds, unit, source)
        return preset

    def apply_layers(self, preset: Preset) -> dict[str, float]:
        """Lay a preset's per-layer values (and the curve its mask placed) on the model now playing,
        at once: after a recall's own model swap, so ``crossover@32`` lands at 32 px on the new
        models. Updates :attr:`applied` (what panic returns to)."""
        if self.layers is None:
            return {}
        targets = self._targets(preset.layer_values(self.registry, self.layers()))
        self.registry.update(targets, (SHOW_SOURCE, "preset", preset.name))
        self.registry.jump(targets)
        self.applied = {n: v for n, v in self.applied.items() if n in self.registry} | targets
        return targets

    def _targets(self, values: Mapping[str, object]) -> dict[str, float]:
        targets: dict[str, float] = {}
        for n, v in values.items():
            if n not in self.registry or self.registry.spec(n).kind == "trigger" or self.registry.spec(n).readonly:
                continue  # a preset is state: it never fires a trigger, never fakes a measured value
            try:
                targets[n] = self.registry.spec(n).coerce(v)
            except ParamError:
                continue
        return targets

    # ------------------------------------------------------------------ crash recovery
    def autosave(self) -> Path:
        """Write the live state to the autosave file (for ``netblend run --resume``)."""
        return self._write(self.capture("autosave", "live state, saved automatically"), self.autosave_path)

    def restore(self) -> Preset | None:
        """Apply the autosaved values, if there are any (models and keyframes: ``Show.apply_now``)."""
        state = self.read_autosave()
        return None if state is None else self.apply(state)


def remove_stale_temp_files(folder: Path) -> int:
    """Delete ``.*.tmp`` files older than a minute (a save killed mid-write); returns how many."""
    removed = 0
    try:
        candidates = list(folder.glob(".*.tmp"))
    except OSError:
        return 0
    for path in candidates:
        try:
            if time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


class Autosaver:
    """Saves the live state every ``interval`` seconds on its own thread, and once more on close."""

    def __init__(self, presets: PresetManager, interval: float = 30.0):
        self.presets = presets
        self.interval = interval
        self.last_saved: float | None = None        # time.time() of the last good save
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _save(self) -> None:
        try:
            self.presets.autosave()
            self.last_saved = time.time()
        except (OSError, PresetError) as e:  # a full disk must not stop the show
            log.warning("autosave failed: %s", e)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._save()

    def start(self) -> Autosaver:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="netblend-autosave", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and save one last time (the state at exit). Idempotent."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=10.0)
            self._thread = None
            self._save()
