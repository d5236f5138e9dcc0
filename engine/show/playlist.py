"""Playlists (cue lists) for installations: recall presets one after another, every N minutes or beats.

A playlist file (TOML; ``netblend run --playlist show.toml``)::

    [playlist]
    hold = "5m"            # how long each cue plays: "90s", "5m", "1h" or "32 beats" (default 5 minutes)
    morph = 8.0            # seconds (or beats, with "morph_beats = true") each recall morphs over
    order = "sequence"     # or "shuffle" (a seeded shuffle each round: same show, same order)
    loop = true            # start again after the last cue (false: stay on it)

    [[cue]]
    preset = "dusk"        # a preset name (presets folders) or a path relative to this file
    [[cue]]
    preset = "crossover-32px"
    hold = "2m"            # per-cue overrides of hold and morph
    morph = 0

The playlist is a show part: its ``before_frame`` counts show-clock seconds (or beats) and recalls the
next cue through :meth:`Show.recall`, applied at that frame's boundary. Presets are read when the
playlist is loaded (a bad name fails at start-up), so nothing is read from disk during the show
except a cue's W/W+ keyframe files, if it lists any.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from ..control.toml_read import read_toml
from ..core.clock import FrameTime
from ..errors import PresetError
from .preset_file import Preset

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|b|beats?)?\s*$", re.I)
_SCALE = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Duration:
    amount: float
    beats: bool = False

    def elapsed(self, seconds: float, beats: float) -> bool:
        return (beats if self.beats else seconds) >= self.amount


def parse_duration(text: object, where: str) -> Duration:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"32 beats"`` or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text > 0:
        return Duration(float(text))
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise PresetError(f"{where}: {text!r} is not a duration; write e.g. \"90s\", \"5m\" or \"32 beats\"")
    unit = (m.group(2) or "s").lower()
    if unit.startswith("b"):
        return Duration(float(m.group(1)), beats=True)
    return Duration(float(m.group(1)) * _SCALE[unit[0]])


@dataclass(frozen=True)
class Cue:
    preset: Preset
    hold: Duration
    morph: float


@dataclass(frozen=True)
class PlaylistFile:
    """A parsed playlist: its cues (presets already read) and how to play them."""

    cues: tuple[Cue, ...]
    order: str = "sequence"
    loop: bool = True
    morph_beats: bool = False
    seed: int = 0


class Playlist:
    """A show part that recalls the cues of a :class:`PlaylistFile` in turn (see the module docstring)."""

    def __init__(self, show, playlist: PlaylistFile):
        self.show = show
        self.cues = list(playlist.cues)
        self.order = playlist.order
        self.loop = playlist.loop
        self.morph_unit = "beats" if playlist.morph_beats else "seconds"
        self._rng = random.Random(playlist.seed)
        self._queue: list[int] = []
        self.current: int | None = None
        self._seconds = 0.0
        self._beats = 0.0

    def _next_index(self) -> int | None:
        if not self._queue:
            if self.current is not None and not self.loop:
                return None
            self._queue = list(range(len(self.cues)))
            if self.order == "shuffle":
                self._rng.shuffle(self._queue)
        return self._queue.pop(0)

    def before_frame(self, ft: FrameTime) -> None:
        self._seconds += ft.dt
        self._beats += ft.dt * ft.bpm / 60.0
        if self.current is not None and not self.cues[self.current].hold.elapsed(self._seconds, self._beats):
            return
        index = self._next_index()
        if index is None:
            return
        self.current, self._seconds, self._beats = index, 0.0, 0.0
        cue = self.cues[index]
        self.show.recall(cue.preset, morph=cue.morph, unit=self.morph_unit)


def read_playlist(path: str | Path, folders) -> PlaylistFile:
    """Read a playlist file; every preset it names is read now (from ``folders``, a PresetFolders, or
    beside the file). Raises PresetError naming the problem, before any model loads."""
    path = Path(path)
    data = read_toml(path, PresetError, "playlist",
                     f"no playlist file {path}; see docs/installations.md for the format")
    head = data.get("playlist", {})
    if not isinstance(head, dict) or not isinstance(data.get("cue", []), list):
        raise PresetError(f"{path}: [playlist] must be a table and the cues [[cue]] tables")
    unknown = set(head) - {"hold", "morph", "order", "loop", "morph_beats", "seed"}
    if unknown:
        raise PresetError(f"{path}: unknown [playlist] key(s) {', '.join(sorted(unknown))}")
    order = head.get("order", "sequence")
    if order not in ("sequence", "shuffle"):
        raise PresetError(f"{path}: order = {order!r}; use \"sequence\" or \"shuffle\"")
    hold = parse_duration(head.get("hold", "5m"), f"{path} [playlist] hold")
    morph = _number(head.get("morph", 0.0), f"{path} [playlist] morph")
    cues = []
    for n, item in enumerate(data.get("cue", []), 1):
        where = f"{path} [[cue]] #{n}"
        if not isinstance(item, dict) or not isinstance(item.get("preset"), str):
            raise PresetError(f"{where}: each cue needs preset = \"NAME\"")
        preset = _find(folders, item["preset"], path.parent)
        cue_hold = parse_duration(item["hold"], f"{where} hold") if "hold" in item else hold
        cues.append(Cue(preset, cue_hold, _number(item.get("morph", morph), f"{where} morph")))
    if not cues:
        raise PresetError(f"{path}: a playlist needs at least one [[cue]] with a preset")
    return PlaylistFile(tuple(cues), order=order, loop=bool(head.get("loop", True)),
                        morph_beats=bool(head.get("morph_beats", False)), seed=int(head.get("seed", 0)))


def _find(folders, name: str, folder: Path) -> Preset:
    beside = folder / name
    if name.endswith(".toml") and beside.is_file():
        return Preset.read(beside)
    return folders.load(name)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PresetError(f"{where}: {value!r} must be a number of seconds (or beats) >= 0")
    return float(value)
