"""Audio reactivity: features of live input or of a file, as read-only ``audio.*`` parameters.

- :func:`params` declares ``audio.level``, ``audio.low``, ``audio.mid``, ``audio.high``,
  ``audio.onset``, ``audio.beat``, ``audio.bpm`` (measured values, ``readonly``) and ``audio.tempo``
  (a switch: the detected tempo drives ``tempo.bpm``).
- :func:`start_audio` opens a live input (``sounddevice``/PortAudio) and analyses it on its own thread.
- :func:`analyse_file` gives per-video-frame features of a track; :func:`mux_audio` puts the track
  into a rendered video.

The same names are written by our analyser and by anyone sending OSC to ``/audio/level`` etc.
(TouchDesigner's Audio Analysis CHOP), so a routing works with either source.
Heavy imports (sounddevice, PyAV) happen inside the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.params import ParamSpec
from .features import FEATURES, AnalysisConfig, FeatureAnalyser

if TYPE_CHECKING:
    from .files import FeatureTrack
    from .live import AudioConfig, AudioInput

__all__ = ["FEATURES", "AnalysisConfig", "FeatureAnalyser", "analyse_file", "mux_audio", "params",
           "start_audio"]

_DOCS = {
    "level": "input level (RMS; a full-scale sine reads 0.707)",
    "low": "bass energy (RMS below 200 Hz)",
    "mid": "mid energy (RMS 200 Hz to 2 kHz)",
    "high": "treble energy (RMS above 2 kHz)",
    "onset": "onset pulse: 1 on a note or hit, decaying in ~0.1 s",
    "beat": "beat pulse: 1 on each beat of the detected tempo, decaying in ~0.1 s",
}


def params() -> list[ParamSpec]:
    """The ``audio.*`` parameters (declare them in every show: OSC from outside can drive them)."""
    specs = [ParamSpec(f"audio.{name}", 0.0, 0.0, 1.0, doc=doc, readonly=True) for name, doc in _DOCS.items()]
    specs.append(ParamSpec("audio.bpm", 0.0, 0.0, 300.0, readonly=True,
                           doc="tempo detected in the audio (0 until known)"))
    specs.append(ParamSpec("audio.tempo", 0.0, kind="bool",
                           doc="the detected tempo drives tempo.bpm (walks, LFOs and morphs in beats)"))
    return specs


def start_audio(registry, device: str | int | None, config: AudioConfig | None = None) -> AudioInput:
    """Open audio input ``device`` (a name fragment, an index, or None/"default") and write its
    features into ``registry`` from an analysis thread. Raises :class:`~engine.errors.AudioError`
    with one line for a missing device or a missing PortAudio. Call ``.stop()`` at the end."""
    from .live import start_audio as start

    return start(registry, device, config)


def analyse_file(path, fps: float, config: AnalysisConfig | None = None) -> FeatureTrack:
    """Features of an audio file (wav, mp3, flac, ...) at exactly ``fps`` frames per second."""
    from .files import analyse_file as analyse

    return analyse(path, fps, config)


def mux_audio(video, audio, out=None):
    """Put ``audio`` into ``video`` (trimmed or padded to the video's length); atomic write."""
    from .files import mux_audio as mux

    return mux(video, audio, out)
