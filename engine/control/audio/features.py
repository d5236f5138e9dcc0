"""Audio features from mono samples, hop by hop: level, band energies, onsets, beats and tempo.

The same :class:`FeatureAnalyser` runs on the live input's analysis thread and over a file offline,
so a show reacts to a track the same way in ``run`` and in ``render``. Everything here is numpy on
sample arrays: no devices, no files, no clocks (time is the number of samples fed).

- ``level``: RMS of the last ~43 ms (Hann-weighted; a full-scale sine reads 0.707);
- ``low`` / ``mid`` / ``high``: RMS within each band, in the same units (the three add up, as
  squares, to the level); bands split at ``low_hz`` and ``high_hz``;
- ``onset``: a pulse, 1 when the spectral flux (rise of log magnitudes across the spectrum) jumps
  above its recent median, decaying with ``pulse_decay``;
- ``beat``: the same pulse on each beat of the tracked tempo; ``bpm``: that tempo (0 until known).

Silence (all zeros) gives exactly zero for every feature.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .beats import BeatConfig, BeatTracker

FEATURES = ("level", "low", "mid", "high", "onset", "beat", "bpm")
PULSES = ("onset", "beat")
FOLLOW_THRESHOLD = 0.5          # BPM: with audio.tempo on, tempo.bpm follows when it is this far off


@dataclass(frozen=True)
class AnalysisConfig:
    low_hz: float = 200.0           # low band: up to here (from the first bin above DC)
    high_hz: float = 2000.0         # mid band: low_hz .. high_hz; high band: above
    onset_ratio: float = 2.0        # an onset: flux above this times its recent median ...
    onset_floor: float = 0.02       # ... and above this (silence and hiss never trigger)
    onset_median: float = 0.5       # seconds of flux history the median looks at
    onset_gap: float = 0.05         # seconds: at most one onset per gap
    pulse_decay: float = 0.1        # seconds: time constant of the onset and beat pulses
    compression: float = 100.0      # log(1 + c * magnitude) before the flux
    beats: BeatConfig = field(default_factory=BeatConfig)


def hop_for(sample_rate: int) -> int:
    """Analysis hop in samples: the power of two nearest 5.3 ms (256 at 44.1 or 48 kHz)."""
    return 1 << max(6, round(math.log2(sample_rate / 187.5)))


class FeatureAnalyser:
    """Feed mono float samples in any chunk sizes; read :attr:`values` or :meth:`take` at any time."""

    def __init__(self, sample_rate: int, config: AnalysisConfig | None = None):
        self.config = c = config or AnalysisConfig()
        self.sample_rate = sample_rate
        self.hop = hop_for(sample_rate)
        self.size = 8 * self.hop                                   # level and bands: ~43 ms
        self.flux_size = 4 * self.hop                              # onsets: ~21 ms, for timing
        self.hop_rate = sample_rate / self.hop
        self._buffer = np.zeros(self.size, dtype=np.float64)
        self._pending = np.zeros(self.hop, dtype=np.float64)
        self._pending_n = 0
        self._window = np.hanning(self.size + 2)[1:-1]             # no zero end points
        self._power_scale = 2.0 / (self.size * float(np.sum(self._window ** 2)))
        self._level_scale = 1.0 / float(np.sum(self._window ** 2))
        freqs = np.fft.rfftfreq(self.size, 1.0 / sample_rate)
        self._low = (freqs > 0) & (freqs < c.low_hz)
        self._mid = (freqs >= c.low_hz) & (freqs < c.high_hz)
        self._high = freqs >= c.high_hz
        self._flux_window = np.hanning(self.flux_size + 2)[1:-1]
        self._mag_scale = 2.0 / float(np.sum(self._flux_window))  # a sine of amplitude A peaks at ~A
        self._last_log = np.zeros(self.flux_size // 2 + 1)
        self._flux: deque[float] = deque(maxlen=max(3, int(round(c.onset_median * self.hop_rate))))
        self._gap_hops = max(1, int(round(c.onset_gap * self.hop_rate)))
        self._decay = math.exp(-1.0 / (c.pulse_decay * self.hop_rate))   # per hop
        self._since_onset = self._gap_hops
        self.tracker = BeatTracker(self.hop_rate, c.beats)
        self.hops = 0
        self.values = dict.fromkeys(FEATURES, 0.0)
        self._peaks = dict.fromkeys(PULSES, 0.0)

    @property
    def seconds(self) -> float:
        """Audio time analysed so far (whole hops)."""
        return self.hops / self.hop_rate

    def feed(self, samples: np.ndarray) -> None:
        """Analyse mono samples (any length); complete hops are analysed now, the rest waits."""
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        i = 0
        while i < len(samples):
            take = min(self.hop - self._pending_n, len(samples) - i)
            self._pending[self._pending_n:self._pending_n + take] = samples[i:i + take]
            self._pending_n += take
            i += take
            if self._pending_n == self.hop:
                self._analyse_hop(self._pending)
                self._pending_n = 0

    def take(self) -> dict[str, float]:
        """The current values, with each pulse at its peak since the last take (a reader polling
        slower than the hop rate still sees every onset and beat at full height)."""
        out = dict(self.values)
        for name in PULSES:
            out[name] = max(out[name], self._peaks[name])
            self._peaks[name] = 0.0
        return out

    def _analyse_hop(self, hop: np.ndarray) -> None:
        buf = self._buffer
        buf[:-self.hop] = buf[self.hop:]
        buf[-self.hop:] = hop
        windowed = buf * self._window
        spectrum = np.fft.rfft(windowed)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        v = self.values
        v["level"] = min(math.sqrt(float(np.dot(windowed, windowed)) * self._level_scale), 1.0)
        v["low"] = min(math.sqrt(float(power[self._low].sum()) * self._power_scale), 1.0)
        v["mid"] = min(math.sqrt(float(power[self._mid].sum()) * self._power_scale), 1.0)
        v["high"] = min(math.sqrt(float(power[self._high].sum()) * self._power_scale), 1.0)
        short = np.fft.rfft(buf[-self.flux_size:] * self._flux_window)
        log_mag = np.log1p(self.config.compression * self._mag_scale * np.abs(short))
        rise = log_mag - self._last_log
        flux = float(rise[rise > 0].sum()) / len(rise)
        self._last_log = log_mag
        self.hops += 1
        median = float(np.median(self._flux)) if self._flux else 0.0
        self._flux.append(flux)
        self._since_onset += 1
        onset = (flux > self.config.onset_floor and flux > self.config.onset_ratio * median
                 and self._since_onset >= self._gap_hops)
        if onset:
            self._since_onset = 0
        beat = self.tracker.step(flux)
        for name, fired in (("onset", onset), ("beat", beat)):
            v[name] = 1.0 if fired else v[name] * self._decay
            if v[name] < 1e-4:
                v[name] = 0.0
            self._peaks[name] = max(self._peaks[name], v[name])
        v["bpm"] = self.tracker.bpm
