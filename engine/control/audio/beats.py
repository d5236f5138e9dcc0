"""A causal beat tracker: tempo from the autocorrelation of the onset-strength envelope, beat times
from the phase of that envelope against the tempo's grid, beats emitted when their predicted time
arrives (so a beat pulse lands on the beat, not after it).

It is fed one onset-strength value (spectral flux) per analysis hop and never looks ahead; the same
input gives the same beats, live or offline.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BeatConfig:
    min_bpm: float = 60.0           # the tempo search range
    max_bpm: float = 200.0
    prior_bpm: float = 120.0        # octave errors resolve towards this tempo
    window: float = 6.0             # seconds of onset strength the tempo is estimated over
    update: float = 0.25            # seconds between tempo estimates
    min_confidence: float = 0.15    # autocorrelation peak / energy needed to report a tempo
    history: int = 5                # tempo estimates the reported tempo is the median of


class BeatTracker:
    """Feed :meth:`step` one onset-strength value per hop; it says whether a beat falls on that hop."""

    def __init__(self, hop_rate: float, config: BeatConfig | None = None):
        self.config = c = config or BeatConfig()
        self.hop_rate = hop_rate                               # hops per second
        self.size = int(round(c.window * hop_rate))
        self._env = np.zeros(self.size)                        # onset strength, oldest first
        self._filled = 0
        self._hop = 0                                          # hops seen so far
        self._update_every = max(1, int(round(c.update * hop_rate)))
        self._min_lag = int(math.floor(60.0 * hop_rate / c.max_bpm))
        self._max_lag = int(math.ceil(60.0 * hop_rate / c.min_bpm))
        lags = np.arange(self._max_lag + 2, dtype=np.float64)
        lags[0] = 1.0
        self._prior = np.exp(-0.5 * np.log2(60.0 * hop_rate / lags / c.prior_bpm) ** 2)
        self._estimates: deque[float] = deque(maxlen=c.history)
        self.bpm = 0.0                                          # 0 until the tempo is known
        self.period = 0.0                                      # hops per beat
        self.next_beat: float | None = None                    # hop index of the next beat
        self._last_beat: int | None = None                     # hop index of the last beat emitted

    def step(self, strength: float) -> bool:
        """Take the onset strength of one hop; True when a beat falls on this hop."""
        env = self._env
        env[:-1] = env[1:]
        env[-1] = strength
        self._filled = min(self._filled + 1, self.size)
        self._hop += 1
        if self._hop % self._update_every == 0 and self._filled >= 2 * self._max_lag:
            self._estimate()
        if self.next_beat is None or self._hop < self.next_beat:
            return False
        while self.next_beat <= self._hop:
            self.next_beat += self.period
        if self._last_beat is not None and self._hop - self._last_beat < 0.5 * self.period:
            return False                                       # a grid correction, not a second beat
        self._last_beat = self._hop
        return True

    def _estimate(self) -> None:
        env = self._env[self.size - self._filled:]
        x = env - env.mean()
        energy = float(np.dot(x, x))
        if energy <= 1e-12:
            return
        n = 1 << int(math.ceil(math.log2(2 * len(x))))
        spectrum = np.fft.rfft(x, n)
        ac = np.fft.irfft(spectrum * np.conj(spectrum), n)[:self._max_lag + 2] / energy
        lo, hi = self._min_lag, self._max_lag
        score = ac[lo:hi + 1] * self._prior[lo:hi + 1]
        best = lo + int(np.argmax(score))
        if ac[best] < self.config.min_confidence or best <= 1:
            return
        a, b, c = ac[best - 1], ac[best], ac[best + 1]
        bend = a - 2.0 * b + c
        lag = best + (0.5 * (a - c) / bend if bend < 0 else 0.0)   # parabolic peak
        self._estimates.append(60.0 * self.hop_rate / lag)
        self.bpm = float(np.median(self._estimates))
        self.period = 60.0 * self.hop_rate / self.bpm
        self._align(env)

    def _align(self, env: np.ndarray) -> None:
        """Place the beat grid where the onset strength lines up best with it (the last few beats)."""
        period = self.period
        beats = int(len(env) // period)
        if beats < 2:
            return
        phases = np.arange(int(math.ceil(period)))
        score = np.zeros(len(phases))
        for j in range(beats):
            idx = len(env) - 1 - np.rint(phases + j * period).astype(np.int64)
            idx = idx[idx >= 0]
            score[:len(idx)] += env[idx]
        phase = int(np.argmax(score))                          # hops since the last beat
        last_beat = self._hop - phase
        candidate = last_beat + period
        self.next_beat = candidate if candidate > self._hop else candidate + period
