"""Audio files for offline renders: features per video frame, and the track muxed into the video.

``analyse_file`` decodes a track (wav, mp3, flac, anything FFmpeg reads) to mono at 48 kHz with
PyAV and runs the live analyser over it, cutting it at exactly the video's frame boundaries (frame
``k`` covers samples ``floor(k * rate / fps)`` up to the next frame's start, in exact rational
arithmetic), so the same file gives the same features every time and for any frame rate.

``mux_audio`` copies the video stream as is (no re-encode) and adds the track, encoded (AAC; Opus
for webm), trimmed or padded with silence to the video's length. The result is written to a
temporary file beside the target and renamed over it: never a half-written video.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ...core.params import ParamRegistry
from ...errors import AudioError
from .features import FEATURES, FOLLOW_THRESHOLD, AnalysisConfig, FeatureAnalyser

SAMPLE_RATE = 48000
AUDIO_CODECS = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".m4v": "aac", ".webm": "libopus"}


@dataclass(frozen=True)
class FeatureTrack:
    """Per-frame features of a track: ``values[k]`` are the features frame ``k`` reacts to."""

    fps: float
    values: np.ndarray                      # [frames, len(FEATURES)] float64
    seconds: float                          # length of the audio
    path: Path | None = None

    names = FEATURES

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def frame(self, k: int) -> dict[str, float]:
        """``{"audio.level": ..., ...}`` for frame ``k`` (silence past the end)."""
        if not 0 <= k < len(self):
            return {f"audio.{n}": 0.0 for n in FEATURES}
        return {f"audio.{n}": float(v) for n, v in zip(FEATURES, self.values[k])}

    def write(self, registry: ParamRegistry, k: int, source: object = ("audio", "file")) -> None:
        """Set frame ``k``'s features in ``registry`` (call before the snapshot of frame ``k``); with
        ``audio.tempo`` on, the detected tempo drives ``tempo.bpm`` as it does live."""
        values = self.frame(k)
        for name, value in values.items():
            registry.set(name, value, source)
        bpm = values["audio.bpm"]
        if bpm > 0 and "audio.tempo" in registry and registry.get("audio.tempo") > 0.5 \
                and abs(registry.get("tempo.bpm") - bpm) >= FOLLOW_THRESHOLD:
            registry.set("tempo.bpm", round(bpm, 1), source)


def _frame_rate(fps: float) -> Fraction:
    if not (isinstance(fps, (int, float, Fraction)) and math.isfinite(fps) and fps > 0):
        raise AudioError(f"frame rate {fps!r} must be a positive number")
    return Fraction(fps).limit_denominator(1001)


def _open(path: Path):
    import av

    if not path.is_file():
        raise AudioError(f"audio file {path} not found; check the path")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        raise AudioError(f"{path}: not an audio file FFmpeg can read ({e}); use wav, mp3 or flac") from None
    if not container.streams.audio:
        container.close()
        raise AudioError(f"{path}: has no audio stream; give a file with sound")
    return container


def decoded_frames(path: Path, layout: str, fmt: str, rate: int = SAMPLE_RATE) -> Iterator:
    """The track's audio frames resampled to ``fmt`` / ``layout`` / ``rate`` (PyAV frames)."""
    import av

    container = _open(path)
    resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
    try:
        for frame in container.decode(container.streams.audio[0]):
            yield from resampler.resample(frame)
        yield from resampler.resample(None)
    except av.error.FFmpegError as e:
        raise AudioError(f"{path}: decoding failed ({e}); the file may be damaged") from None
    finally:
        container.close()


def decode_mono(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The whole track as mono float32 samples at ``rate``."""
    chunks = [f.to_ndarray().reshape(-1) for f in decoded_frames(Path(path), "mono", "flt", rate)]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def analyse_samples(samples: np.ndarray, rate: int, fps: float,
                    config: AnalysisConfig | None = None) -> np.ndarray:
    """Features ``[frames, len(FEATURES)]`` of mono ``samples``, one row per video frame."""
    fr = _frame_rate(fps)
    frames = math.ceil(Fraction(len(samples)) * fr / rate)
    analyser = FeatureAnalyser(rate, config)
    out = np.zeros((frames, len(FEATURES)))
    for k in range(frames):
        start = (k * rate * fr.denominator) // fr.numerator
        end = ((k + 1) * rate * fr.denominator) // fr.numerator
        analyser.feed(samples[start:end])
        values = analyser.take()
        out[k] = [values[name] for name in FEATURES]
    return out


def analyse_file(path: str | Path, fps: float, config: AnalysisConfig | None = None) -> FeatureTrack:
    """Per-frame features of an audio file at exactly ``fps``; raises :class:`AudioError` in one line."""
    path = Path(path)
    samples = decode_mono(path)
    return FeatureTrack(float(fps), analyse_samples(samples, SAMPLE_RATE, fps, config),
                        len(samples) / SAMPLE_RATE, path)


def video_seconds(path: str | Path) -> float:
    """Length of the first video stream of ``path``, in seconds."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        if stream.frames and stream.average_rate:
            return float(stream.frames / stream.average_rate)
        return float(container.duration or 0) / av.time_base


def mux_audio(video: str | Path, audio: str | Path, out: str | Path | None = None) -> Path:
    """Write ``out`` (default: replace ``video``) = ``video``'s stream + ``audio`` fitted to its length."""
    import av

    video, audio = Path(video), Path(audio)
    out = Path(out) if out is not None else video
    codec = AUDIO_CODECS.get(out.suffix.lower())
    if codec is None:
        raise AudioError(f"{out}: cannot carry audio as {out.suffix!r}; use one of {', '.join(AUDIO_CODECS)}")
    if not video.is_file():
        raise AudioError(f"video {video} not found; render it first")
    seconds = video_seconds(video)
    total = int(round(seconds * SAMPLE_RATE))
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.part{out.suffix}")
    try:
        with av.open(str(video)) as vin, av.open(str(tmp), mode="w") as container:
            vstream = vin.streams.video[0]
            vout = container.add_stream_from_template(vstream)
            aout = container.add_stream(codec, rate=SAMPLE_RATE, layout="stereo")
            packets = _encoded_audio(audio, aout, total)
            pending = next(packets, None)
            for packet in vin.demux(vstream):
                if packet.dts is None:
                    continue
                t = float(packet.dts * packet.time_base)
                while pending is not None and pending.pts is not None and \
                        float(pending.pts * pending.time_base) <= t:
                    container.mux(pending)
                    pending = next(packets, None)
                packet.stream = vout
                container.mux(packet)
            while pending is not None:
                container.mux(pending)
                pending = next(packets, None)
        os.replace(tmp, out)
    except av.error.FFmpegError as e:
        raise AudioError(f"adding {audio.name} to {video.name} failed ({e}); the video is unchanged") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def _encoded_audio(audio: Path, stream, total: int) -> Iterator:
    """Encoded packets of ``audio`` as stereo at 48 kHz, exactly ``total`` samples long."""
    import av

    size = stream.codec_context.frame_size or 1024
    buffer = np.zeros((2, 0), dtype=np.float32)
    written = 0

    def frames_of(block: np.ndarray) -> Iterator:
        nonlocal written
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = written
        frame.time_base = Fraction(1, SAMPLE_RATE)
        written += block.shape[1]
        yield from stream.encode(frame)

    for frame in decoded_frames(audio, "stereo", "fltp"):
        buffer = np.concatenate([buffer, frame.to_ndarray()], axis=1)[:, :total - written]
        while buffer.shape[1] >= size:
            yield from frames_of(buffer[:, :size])
            buffer = buffer[:, size:]
        if written + buffer.shape[1] >= total:
            break
    missing = total - written - buffer.shape[1]
    if missing > 0:                                          # shorter than the video: silence after
        buffer = np.concatenate([buffer, np.zeros((2, missing), dtype=np.float32)], axis=1)
    while buffer.shape[1] > 0:
        yield from frames_of(buffer[:, :size])
        buffer = buffer[:, size:]
    yield from stream.encode(None)
