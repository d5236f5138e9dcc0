"""MIDI ports: open the inputs that match, feed their messages to an adapter, light the LEDs, and
survive a controller being unplugged and plugged back in.

:class:`MidiPorts` runs one background thread. It polls the open inputs every ``poll`` seconds and
hands each message to the handler, rescans the port list every ``rescan`` seconds (opening new
matches, closing vanished ones) and sends LED feedback for ``led = true`` bindings about 30 times a
second. Nothing a device does (garbage, sysex floods, disappearing) stops it.

Why polling and not callbacks: python-rtmidi runs an input callback on the MIDI system's own thread
(JACK's process thread), which must take the GIL; a Python thread holding the GIL inside a blocking
rtmidi call (opening a port, listing ports) then waits on that same JACK cycle, and the process hangs
(seen in testing). With rtmidi backends, inputs are therefore opened through python-rtmidi directly
with no callback: messages wait in rtmidi's own queue until this thread collects them.

Which MIDI system (ALSA, JACK, CoreMIDI, Windows MM) is chosen in ``engine.control.midi_backend``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import mido

from .midi_backend import BACKEND_LOCK, LockedPort, MidiUnavailable, get_backend, port_names

__all__ = ["BACKEND_LOCK", "MidiPorts", "MidiPortsConfig", "MidiUnavailable", "get_backend", "matching",
           "open_polled_input", "port_names"]

log = logging.getLogger(__name__)


def matching(names: list[str], pattern: str | None) -> list[str]:
    """Names matching ``pattern`` (case-insensitive regex search; a plain substring works too)."""
    if not pattern:
        return list(names)
    rx = re.compile(pattern, re.IGNORECASE)
    return [n for n in names if rx.search(n)]


class PolledRtMidiInput:
    """A python-rtmidi input with no callback: messages queue in rtmidi until :meth:`pending`."""

    def __init__(self, api: str | None, name: str, queue_size: int = 8192):
        import rtmidi

        rtapi = getattr(rtmidi, f"API_{api}") if api else rtmidi.API_UNSPECIFIED
        with BACKEND_LOCK:
            self._rt = rtmidi.MidiIn(rtapi=rtapi, name="netblend", queue_size_limit=queue_size)
            try:
                names = self._rt.get_ports()
                if name not in names:
                    raise OSError(f"unknown port {name!r}")
                self._rt.open_port(names.index(name), name="in")
            except (RuntimeError, rtmidi.RtMidiError) as e:
                self._rt.delete()
                raise OSError(str(e)) from None
        self._rt.ignore_types(sysex=False, timing=False, active_sense=True)
        self.name = name

    def pending(self, limit: int = 4096) -> list[list[int]]:
        """Raw messages received since the last call (at most ``limit``)."""
        out = []
        for _ in range(limit):
            item = self._rt.get_message()
            if item is None:
                break
            out.append(item[0])
        return out

    def close(self) -> None:
        with BACKEND_LOCK:
            self._rt.close_port()
            self._rt.delete()


class MidoPolledInput:
    """Any other mido backend's input, polled the same way."""

    def __init__(self, backend, name: str):
        self._port = backend.open_input(name)
        self.name = name

    def pending(self, limit: int = 4096) -> list:
        out = []
        for _ in range(limit):
            msg = self._port.poll()
            if msg is None:
                break
            out.append(msg)
        return out

    def close(self) -> None:
        self._port.close()


def open_polled_input(backend, name: str):
    """Open input ``name`` for polling (python-rtmidi directly for rtmidi backends)."""
    if backend.name == "mido.backends.rtmidi":
        return PolledRtMidiInput(backend.api, name)
    return MidoPolledInput(backend, name)


@dataclass
class MidiPortsConfig:
    input_pattern: str | None = None        # --midi-port REGEX, else the mapping's [device].port
    output_pattern: str | None = None       # LED output; the mapping's [device].output
    backend: str | None = None              # mido backend name; None = $MIDO_BACKEND or default
    rescan: float = 1.0                     # seconds between port rescans (unplug/replug)
    poll: float = 0.002                     # seconds between input polls (adds at most this latency)
    led_interval: float = 1 / 30            # seconds between LED updates


class MidiPorts:
    """Keeps every matching input open and feeds ``handler(message, port_name)``."""

    def __init__(self, config: MidiPortsConfig, handler: Callable[[mido.Message, str], None],
                 led_source: Callable[[bool], list[mido.Message]] | None = None):
        self.config = config
        self.handler = handler
        self.led_source = led_source          # e.g. MidiAdapter.led_messages
        self.backend = get_backend(config.backend)
        self.inputs: dict[str, PolledRtMidiInput | MidoPolledInput] = {}
        self.output: LockedPort | None = None
        self.errors = 0
        self.connects = 0                     # how many times a port was (re)opened
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.intercept: Callable[[mido.Message, str], bool] | None = None   # learn mode hook

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> MidiPorts:
        """Scan once (raising :class:`MidiUnavailable` if there is no MIDI system), then run."""
        port_names(self.backend)
        self.rescan()
        self._thread = threading.Thread(target=self._run, name="netblend-midi", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and close every port (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for port in self.inputs.values():
                _close_quietly(port)
            self.inputs.clear()
            if self.output is not None:
                _close_quietly(self.output)
                self.output = None

    def __enter__(self) -> MidiPorts:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> list[str]:
        return sorted(self.inputs)

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        now = time.monotonic()
        next_scan, next_led = now + self.config.rescan, now
        while not self._stop.wait(self.config.poll):
            self._poll_inputs()
            now = time.monotonic()
            if now >= next_scan:
                next_scan = now + self.config.rescan
                try:
                    self.rescan()
                except Exception:       # a backend hiccup must not end the thread; retried next scan
                    self.errors += 1
                    log.exception("MIDI port rescan failed; retrying in %.1f s", self.config.rescan)
            if now >= next_led:
                next_led = now + self.config.led_interval
                self._send_leds(only_changed=True)

    def _poll_inputs(self) -> None:
        with self._lock:
            inputs = list(self.inputs.values())
        for port in inputs:
            try:
                items = port.pending()
            except Exception:           # a port torn down under us; the rescan closes it
                self.errors += 1
                log.debug("MIDI poll failed on %s", port.name, exc_info=True)
                continue
            for item in items:
                self._deliver(item, port.name)

    def _deliver(self, item, port_name: str) -> None:
        try:
            msg = item if isinstance(item, mido.Message) else mido.Message.from_bytes(item)
        except (ValueError, TypeError):
            return                      # garbage from the device: skipped
        try:
            if self.intercept is not None and self.intercept(msg, port_name):
                return
            self.handler(msg, port_name)
        except Exception:               # nothing a controller sends may kill the input
            self.errors += 1
            log.exception("MIDI message from %s could not be handled", port_name)

    def rescan(self) -> None:
        """Open new matching inputs, close vanished ones, (re)open the LED output."""
        try:
            names = port_names(self.backend)
        except MidiUnavailable:
            names = []
        wanted = set(matching(names, self.config.input_pattern))
        with self._lock:
            for name in [n for n in self.inputs if n not in wanted]:
                log.warning("MIDI input %s disappeared; waiting for it to come back", name)
                _close_quietly(self.inputs.pop(name))
            for name in sorted(wanted - set(self.inputs)):
                try:
                    self.inputs[name] = open_polled_input(self.backend, name)
                    self.connects += 1
                    log.info("MIDI input %s connected", name)
                except (OSError, SystemError) as e:
                    log.warning("cannot open MIDI input %s: %s", name, e)
        self._rescan_output()

    def _rescan_output(self) -> None:
        if not self.config.output_pattern or self.led_source is None:
            return
        try:
            outs = matching(port_names(self.backend, output=True), self.config.output_pattern)
        except MidiUnavailable:
            outs = []
        with self._lock:
            if self.output is not None and self.output.name not in outs:
                _close_quietly(self.output)
                self.output = None
            if self.output is None and outs:
                try:
                    self.output = self.backend.open_output(outs[0])
                except (OSError, SystemError) as e:
                    log.warning("cannot open MIDI output %s: %s", outs[0], e)
                    return
                reopened = True
            else:
                reopened = False
        if reopened:
            self._send_leds(only_changed=False)

    def _send_leds(self, only_changed: bool) -> None:
        if self.output is None or self.led_source is None:
            return
        try:
            for msg in self.led_source(only_changed):
                self.output.send(msg)
        except Exception:               # a vanished output; the next rescan reopens it
            self.errors += 1
            log.debug("MIDI LED send failed", exc_info=True)


def _close_quietly(port) -> None:
    try:
        port.close()
    except Exception:  # closing a port whose device vanished can fail in the backend; it is gone anyway
        log.debug("closing MIDI port failed", exc_info=True)
