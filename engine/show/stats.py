"""Frame statistics: fps, frame-time percentiles, late frames. Updated by the loop, read by anyone."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class FrameStats:
    target_fps: float | None = None
    window: int = 600                                  # frames kept for percentiles
    frames: int = 0
    late: int = 0                                      # frames whose render took longer than the period
    first_t: float | None = None
    last_t: float = 0.0
    _times: deque = field(default_factory=deque)
    _stamps: deque = field(default_factory=lambda: deque(maxlen=61))
    stages: dict[str, deque] = field(default_factory=dict)    # profiling: seconds per stage per frame

    def record(self, frame_seconds: float, t: float) -> None:
        """One rendered frame: its render time and the clock time it started at."""
        if self.first_t is None:
            self.first_t = t
        self.last_t = t
        self.frames += 1
        self._stamps.append(t)
        self._times.append(frame_seconds)
        if len(self._times) > self.window:
            self._times.popleft()
        if self.target_fps and frame_seconds > 1.0 / self.target_fps:
            self.late += 1

    def record_stages(self, seconds: dict[str, float]) -> None:
        """Per-stage times of one profiled frame (``netblend run --profile``)."""
        for stage, sec in seconds.items():
            self.stages.setdefault(stage, deque(maxlen=self.window)).append(sec)

    def stage_summary(self) -> str:
        """``blend 0.4 ms, mapping 0.2 ms, ...``: median per stage over the profiled frames."""
        parts = []
        for stage, times in self.stages.items():
            ordered = sorted(times)
            parts.append(f"{stage} {1000.0 * ordered[len(ordered) // 2]:.2f} ms")
        return ", ".join(parts)

    @property
    def elapsed(self) -> float:
        return 0.0 if self.first_t is None else self.last_t - self.first_t

    @property
    def fps(self) -> float:
        """Frames per second of clock time over the whole run."""
        return (self.frames - 1) / self.elapsed if self.frames > 1 and self.elapsed > 0 else 0.0

    @property
    def recent_fps(self) -> float:
        """Frames per second over about the last 60 frames (what the overlay shows)."""
        if len(self._stamps) < 2 or self._stamps[-1] <= self._stamps[0]:
            return 0.0
        return (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0])

    def fps_at(self, now: float, stall: float = 1.0) -> float | None:
        """The frame rate to report at clock time ``now``: None before the first frame, 0 once no
        frame has rendered for ``stall`` seconds (or three frame periods, whichever is longer), else
        :attr:`recent_fps`. What ``/engine/fps`` feedback and the page show."""
        if self.frames == 0:
            return None
        fps = self.recent_fps
        limit = max(stall, 3.0 / fps) if fps > 0 else stall
        return 0.0 if now - self.last_t > limit else fps

    def percentile_ms(self, q: float) -> float:
        if not self._times:
            return 0.0
        ordered = sorted(self._times)
        return 1000.0 * ordered[min(len(ordered) - 1, int(q / 100.0 * len(ordered)))]

    def summary(self) -> str:
        """The one line printed when a run ends."""
        line = (f"{self.frames} frames in {self.elapsed:.1f} s, {self.fps:.1f} fps; render "
                f"p50 {self.percentile_ms(50):.1f} ms, p95 {self.percentile_ms(95):.1f} ms, "
                f"p99 {self.percentile_ms(99):.1f} ms")
        if self.target_fps:
            line += f"; {self.late} late frames at {self.target_fps:g} fps"
        return line
