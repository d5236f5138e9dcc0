"""Generated test audio: tones, bass bursts and click tracks (with their true click times), and
audio files written through PyAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 48000


def tone(freq: float, seconds: float, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def click(sr: int = SR, seed: int = 0) -> np.ndarray:
    """A 2 ms decaying noise burst (a rim shot, roughly)."""
    n = int(0.002 * sr)
    rng = np.random.default_rng(seed)
    return (0.8 * rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 3))).astype(np.float32)


def click_track(bpm: float, seconds: float, start: float = 0.25, sr: int = SR) -> tuple[np.ndarray, list[float]]:
    """Clicks every beat from ``start``; returns the samples and the click times in seconds."""
    x = np.zeros(int(round(seconds * sr)), dtype=np.float32)
    times = []
    c = click(sr)
    t = start
    while t + 0.01 < seconds:
        i = int(round(t * sr))
        x[i:i + len(c)] += c
        times.append(i / sr)
        t += 60.0 / bpm
    return x, times


def with_burst(x: np.ndarray, start: float, end: float, freq: float = 60.0, amp: float = 0.6,
               sr: int = SR) -> np.ndarray:
    """``x`` with a bass tone between ``start`` and ``end`` seconds."""
    y = x.copy()
    a, b = int(start * sr), int(end * sr)
    y[a:b] += tone(freq, (b - a) / sr, amp, sr)[:b - a]
    return y


def write_audio(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    """Write mono ``samples`` as wav (16 bit), flac or mp3, chosen by the suffix."""
    import av

    codec = {".wav": "pcm_s16le", ".flac": "flac", ".mp3": "libmp3lame"}[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=sr, layout="mono")
        if path.suffix == ".mp3":
            data, fmt = samples[None, :].astype(np.float32), "fltp"
        else:
            data, fmt = (np.clip(samples, -1, 1)[None, :] * 32767).astype(np.int16), "s16"
        step = 4608
        for i in range(0, data.shape[1], step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, i:i + step]), format=fmt, layout="mono")
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
