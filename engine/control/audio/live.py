"""Live audio input: PortAudio (through ``sounddevice``) delivers blocks on its own callback thread, an
analysis thread turns them into features and writes ``audio.*`` into the registry. Never on the
frame path: the render loop only reads the newest values from its snapshot.

PortAudio reaches JACK and ALSA on Linux, CoreAudio on macOS, WASAPI/MME on Windows. The callback only
copies the block into a queue; a full queue (analysis starved of CPU) drops blocks and counts them.
When the input stops delivering (unplugged, JACK server gone) the features fall to 0 after
``silence_timeout`` with one warning, and come back by themselves if it resumes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from ...core.params import ParamError, ParamRegistry
from ...errors import AudioError
from .features import FEATURES, FOLLOW_THRESHOLD, AnalysisConfig, FeatureAnalyser

log = logging.getLogger("netblend.audio")

_open_inputs = 0                # streams open in this process (PortAudio is only re-scanned at 0)
_open_lock = threading.Lock()


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int | None = None      # None: the device's default rate
    channels: int | None = None         # None: up to two of the device's inputs, mixed to mono
    block: int = 0                      # frames per PortAudio callback; 0 lets PortAudio choose
    silence_timeout: float = 2.0        # seconds without input before features drop to 0
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    hostapi: str
    inputs: int                         # input channels
    sample_rate: float                  # the device's default rate
    default: bool = False


def import_sounddevice() -> ModuleType:
    """The ``sounddevice`` module, or :class:`AudioError` saying what to install."""
    try:
        import sounddevice
    except ImportError:
        raise AudioError("audio input needs the sounddevice package: pip install 'netblend[audio]'") from None
    except OSError:
        raise AudioError("audio input needs the PortAudio library: apt-get install libportaudio2 "
                         "(Debian/Ubuntu); the sounddevice wheels for macOS and Windows include it") from None
    return sounddevice


def input_devices(sd: ModuleType | None = None) -> list[AudioDevice]:
    """Every device with input channels, as PortAudio sees them now (re-scanned when no input is open,
    so a JACK server or an interface started after netblend shows up)."""
    sd = sd or import_sounddevice()
    with _open_lock:
        if _open_inputs == 0:           # sounddevice's documented way to re-scan the devices
            if sd._initialized:
                sd._terminate()
            sd._initialize()
    try:
        default_in = sd.default.device[0]
        apis = [api["name"] for api in sd.query_hostapis()]
        devices = sd.query_devices()
    except sd.PortAudioError as e:
        raise AudioError(f"PortAudio cannot list the audio devices ({e}); check the audio system") from None
    return [AudioDevice(i, d["name"], apis[d["hostapi"]], int(d["max_input_channels"]),
                        float(d["default_samplerate"]), i == default_in)
            for i, d in enumerate(devices) if d["max_input_channels"] > 0]


def find_device(devices: list[AudioDevice], wanted: str | int | None) -> AudioDevice:
    """The input ``wanted`` names: an index, an exact name, else a case-insensitive name fragment;
    None or "default" is the system's default input."""
    if not devices:
        raise AudioError("no audio input devices found; connect one (or start JACK) and check `netblend audio`")
    if wanted is None or wanted == "default":
        for d in devices:
            if d.default:
                return d
        return devices[0]
    text = str(wanted)
    if text.isdigit():
        for d in devices:
            if d.index == int(text):
                return d
    exact = [d for d in devices if d.name == text]
    partial = [d for d in devices if text.lower() in d.name.lower()]
    if exact or partial:
        return (exact or partial)[0]
    raise AudioError(f"audio input {text!r} not found; `netblend audio` lists the input devices "
                     f"({', '.join(d.name for d in devices[:6])}{', ...' if len(devices) > 6 else ''})")


class AudioInput:
    """The analysis side of a live input: blocks in (:meth:`push`), features out to the registry."""

    def __init__(self, registry: ParamRegistry, sample_rate: int, name: str = "input",
                 config: AudioConfig | None = None):
        self.registry = registry
        self.name = name
        self.config = config or AudioConfig()
        self.sample_rate = sample_rate
        self.analyser = FeatureAnalyser(sample_rate, self.config.analysis)
        self.source = ("audio", name)
        self.blocks = 0                 # blocks analysed
        self.dropped = 0                # blocks dropped because the analysis fell behind
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=1024)  # ~1 s of small blocks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream = None             # the PortAudio stream, when opened by start_audio
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ producer (PortAudio thread)
    def push(self, block: np.ndarray) -> None:
        """Queue one block of samples ``[frames]`` or ``[frames, channels]`` (mixed to mono)."""
        mono = block.mean(axis=1) if block.ndim == 2 else np.array(block, dtype=np.float32)
        try:
            self._queue.put_nowait(mono)
        except queue.Full:
            self.dropped += 1

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio's signature
        self.push(indata)

    # ------------------------------------------------------------------ consumer (analysis thread)
    def start(self) -> AudioInput:
        self._thread = threading.Thread(target=self._run, name=f"netblend-audio-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        silent = False
        last_block = time.monotonic()
        while not self._stop.is_set():
            try:
                block = self._queue.get(timeout=0.05)      # short: stop() is noticed at once
            except queue.Empty:
                if not silent and time.monotonic() - last_block > self.config.silence_timeout:
                    log.warning("audio input %s delivers nothing; its features read 0 until it does", self.name)
                    self._write(dict.fromkeys(FEATURES, 0.0))
                    silent = True
                continue
            last_block = time.monotonic()
            if silent:
                log.info("audio input %s is back", self.name)
                silent = False
            try:
                self.analyser.feed(block)
                self.blocks += 1
                while True:                                   # catch up on a backlog before writing
                    self.analyser.feed(self._queue.get_nowait())
                    self.blocks += 1
            except queue.Empty:
                pass
            except Exception as e:  # a bad block must not end the analysis
                self._warn_once("analysis", f"audio analysis of {self.name} failed on a block: {e}")
                continue
            self._write(self.analyser.take())

    def _write(self, values: dict[str, float]) -> None:
        registry = self.registry
        try:
            for name in FEATURES:
                registry.set(f"audio.{name}", values[name], self.source)
            bpm = values["bpm"]
            if bpm > 0 and "audio.tempo" in registry and registry.get("audio.tempo") > 0.5 \
                    and abs(registry.get("tempo.bpm") - bpm) >= FOLLOW_THRESHOLD:
                registry.set("tempo.bpm", round(bpm, 1), self.source)
        except ParamError as e:  # the show did not declare engine.control.audio.params()
            self._warn_once("registry", f"audio features not written: {e}")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    # ------------------------------------------------------------------ lifetime
    def stop(self) -> None:
        """Close the input and the analysis thread; the features go back to 0. Idempotent."""
        global _open_inputs
        self._stop.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as e:  # closing a vanished device must not stop the shutdown
                log.debug("closing audio input %s: %s", self.name, e)
            with _open_lock:
                _open_inputs -= 1
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
            self._write(dict.fromkeys(FEATURES, 0.0))

    def __enter__(self) -> AudioInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_audio(registry: ParamRegistry, device: str | int | None,
                config: AudioConfig | None = None) -> AudioInput:
    """Open input ``device`` through PortAudio and analyse it on a thread (see the package docs)."""
    global _open_inputs
    config = config or AudioConfig()
    sd = import_sounddevice()
    chosen = find_device(input_devices(sd), device)
    rate = int(config.sample_rate or chosen.sample_rate or 48000)
    channels = min(config.channels or 2, chosen.inputs)
    audio = AudioInput(registry, rate, chosen.name, config)
    try:
        stream = sd.InputStream(device=chosen.index, channels=channels, samplerate=rate, dtype="float32",
                                blocksize=config.block, callback=audio._callback)
        stream.start()
    except (sd.PortAudioError, ValueError) as e:
        raise AudioError(f"audio input {chosen.name!r} cannot open at {rate} Hz, {channels} channel(s) "
                         f"({e}); try another --audio-in device or sample rate") from None
    with _open_lock:
        _open_inputs += 1
    audio._stream = stream
    log.info("audio input: %s (%s, %d Hz, %d channel(s))", chosen.name, chosen.hostapi, rate, channels)
    return audio.start()
