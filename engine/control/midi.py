"""The MIDI adapter: mido messages in, registry writes and :class:`Actions` calls out. No ports here.

One :class:`MidiAdapter` holds one :class:`~engine.control.mapping.Mapping` and the per-control state
it needs (pickup, 14-bit halves, NRPN selection, relative positions, toggles). ``handle(msg)`` is
called from the port thread; ``handle_bytes(data)`` parses raw MIDI bytes (garbage is skipped).
Nothing a controller sends raises: refused writes are counted, unknown parameters reported once.

Value path of a continuous control: raw -> unit position u in [0, 1] -> invert -> curve -> range
(overblend ranges allowed; the registry clamps to the parameter's own range). The unit position puts
a controller's centre exactly at 0.5 (:func:`unit_position`: 7-bit 64 and 14-bit 8192), so a
centred knob on a -1..2 range reads 0.5 of the way, and a 0..1 fader at 64 is exactly 0.5.

Buttons fire once per press (the rising edge; ``engine.control.buttons`` has the re-arm rule for
controllers that repeat their press value or never send a release).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import mido

from ..core.params import ParamError, ParamRegistry
from .actions import Actions
from .buttons import PressDetector
from .mapping import Mapping, MidiBinding
from .midi_values import (
    PICKUP_WINDOW,
    RELATIVE_STEP,
    apply_curve,
    binding_position,
    binding_value,
    controller_value,
    expand_running_status,
    relative_delta,
    unit_position,
)

log = logging.getLogger(__name__)

__all__ = ["MidiAdapter", "apply_curve", "binding_position", "binding_value", "controller_value",
           "expand_running_status", "relative_delta", "unit_position"]


@dataclass
class _State:
    """Per-binding live state."""
    picked: bool = False
    last_u: float | None = None          # the control's last position
    written: float | None = None         # the value this binding last stored
    msb: int | None = None               # cc14 halves
    lsb: int = 0
    pressed: bool = False                # a button's last state (momentary buttons follow it)
    led_level: int | None = None         # what the LED shows now


@dataclass
class _NrpnState:
    param_msb: int = 127
    param_lsb: int = 127
    data_msb: int = 0
    data_lsb: int = 0
    fine: bool = False                   # a data-entry LSB (CC 38) was seen: 14-bit values


class MidiAdapter:
    """Turns MIDI messages into parameter writes and actions according to one mapping."""

    def __init__(self, mapping: Mapping, registry: ParamRegistry, actions: Actions | None = None,
                 tempo=None, source_name: str = "midi", time_fn: Callable[[], float] = time.perf_counter):
        self.mapping = mapping
        self.registry = registry
        self.actions = actions if actions is not None else Actions()
        self.tempo = tempo                          # a TempoTracker fed by MIDI clock, or None
        self.source_name = source_name
        self.time_fn = time_fn
        self.received = 0
        self.refused = 0
        self._reported: set[str] = set()
        self._presses = PressDetector(clock=time_fn)
        self._state = {b.index: _State() for b in mapping.midi}
        self._nrpn: dict[int, _NrpnState] = {}
        self._cc: dict[int, list[MidiBinding]] = {}
        self._notes: dict[int, list[MidiBinding]] = {}
        self._nrpn_bindings: list[MidiBinding] = []
        self._other: list[MidiBinding] = []
        self.bank = mapping.start_bank                 # bindings of other banks are asleep
        self._shifted_from: str | None = None          # the bank a held shift button returns to
        for b in mapping.midi:
            if b.control in ("cc", "cc14"):
                for n in b.cc_numbers():
                    self._cc.setdefault(n, []).append(b)
            elif b.control == "note":
                self._notes.setdefault(int(b.number or 0), []).append(b)
            elif b.control == "nrpn":
                self._nrpn_bindings.append(b)
            else:
                self._other.append(b)
        self._apply_smoothing()

    # ------------------------------------------------------------------ entry points
    def handle(self, msg: mido.Message, port: str | None = None) -> None:
        """Apply one message; never raises for anything a controller can send."""
        self.received += 1
        source = ("midi", port or self.source_name)
        try:
            self._dispatch(msg, source)
        except ParamError as e:
            self.refused += 1
            self._report(str(e))

    def handle_bytes(self, data: bytes | list[int], port: str | None = None) -> int:
        """Parse raw MIDI bytes (running status, garbage and partial messages tolerated); returns messages."""
        parser = mido.Parser()
        parser.feed(expand_running_status(bytes(data)))
        count = 0
        for msg in parser:
            self.handle(msg, port)
            count += 1
        return count

    @property
    def problems(self) -> list[str]:
        """What was reported so far (unknown parameters, refused writes), once each."""
        return sorted(self._reported)

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, msg: mido.Message, source: tuple) -> None:
        kind = msg.type
        if kind == "control_change":
            self._control_change(msg.channel + 1, msg.control, msg.value, source)
        elif kind in ("note_on", "note_off"):
            pressed = kind == "note_on" and msg.velocity > 0
            for b in self._notes.get(msg.note, ()):
                if self._awake(b, msg.channel + 1):
                    self._button(b, pressed, source)
        elif kind == "pitchwheel":
            for b in self._other:
                if b.control == "pitchbend" and self._awake(b, msg.channel + 1):
                    self._absolute(b, unit_position(msg.pitch + 8192, 16383), source)
        elif kind in ("clock", "start", "stop", "continue"):
            self._clock(kind, source)

    def _awake(self, b: MidiBinding, channel: int) -> bool:
        return _channel_ok(b, channel) and (b.bank is None or b.bank == self.bank)

    def _control_change(self, channel: int, number: int, value: int, source: tuple) -> None:
        if number in (6, 38, 98, 99) and self._nrpn_bindings:
            if self._nrpn_cc(channel, number, value, source):
                return
        for b in self._cc.get(number, ()):
            if not self._awake(b, channel):
                continue
            if b.control == "cc14":
                st = self._state[b.index]
                if number == b.number:
                    st.msb = value
                else:
                    st.lsb = value
                if st.msb is not None:
                    self._absolute(b, unit_position((st.msb << 7) | st.lsb, 16383), source)
            elif b.is_button or self._is_trigger(b):
                self._button(b, value >= 64, source)
            elif b.mode != "absolute":
                self._relative(b, relative_delta(b.mode, value), source)
            else:
                self._absolute(b, unit_position(value), source)

    def _nrpn_cc(self, channel: int, number: int, value: int, source: tuple) -> bool:
        """Track the NRPN sequence 99/98 (parameter), 6/38 (data); True when consumed."""
        if not any(_channel_ok(b, channel) for b in self._nrpn_bindings):
            return False
        st = self._nrpn.setdefault(channel, _NrpnState())
        if number == 99:
            st.param_msb = value
        elif number == 98:
            st.param_lsb = value
        elif number == 6:
            st.data_msb = value
        else:
            st.data_lsb, st.fine = value, True
        if number in (6, 38):
            selected = (st.param_msb << 7) | st.param_lsb
            u = unit_position((st.data_msb << 7) | st.data_lsb, 16383) if st.fine else unit_position(st.data_msb)
            for b in self._nrpn_bindings:
                if b.number == selected and self._awake(b, channel):
                    self._absolute(b, u, source)
        return True

    # ------------------------------------------------------------------ behaviours
    def _param_ok(self, b: MidiBinding) -> bool:
        if b.param is None or b.param in self.registry:
            return True
        from .suggest import did_you_mean

        self._report(f"{self.mapping.path.name}: {b.describe()}: unknown parameter {b.param!r}"
                     f"{did_you_mean(str(b.param), self.registry.names())}; binding skipped")
        return False

    def _is_trigger(self, b: MidiBinding) -> bool:
        return b.param in self.registry and self.registry.spec(str(b.param)).kind == "trigger"

    def _write(self, b: MidiBinding, value: float, source: tuple) -> None:
        self._state[b.index].written = self.registry.set(str(b.param), value, source)

    def _absolute(self, b: MidiBinding, u: float, source: tuple) -> None:
        if not self._param_ok(b):
            return
        st = self._state[b.index]
        prev_u, st.last_u = st.last_u, u
        if b.takeover == "pickup":
            current = self.registry.get(str(b.param))
            if st.written is None or current != st.written:
                st.picked = False            # the value moved elsewhere (OSC, preset): pick up again
            if not st.picked:
                here = binding_position(b, current)
                crossed = (prev_u is not None
                           and min(prev_u, u) - PICKUP_WINDOW <= here <= max(prev_u, u) + PICKUP_WINDOW)
                if not (crossed or abs(u - here) <= PICKUP_WINDOW):
                    return
                st.picked = True
        self._write(b, binding_value(b, u), source)

    def _relative(self, b: MidiBinding, ticks: int, source: tuple) -> None:
        if not self._param_ok(b) or ticks == 0:
            return
        here = binding_position(b, self.registry.get(str(b.param)))
        if b.invert:
            ticks = -ticks
        u = min(max(here + ticks * RELATIVE_STEP, 0.0), 1.0)
        self._write(b, binding_value(b, u), source)

    def _button(self, b: MidiBinding, pressed: bool, source: tuple) -> None:
        st = self._state[b.index]
        was, st.pressed = st.pressed, pressed
        fires = self._presses.press(b.index, pressed)       # the rising edge (see engine.control.buttons)
        if b.action == "shift":
            if fires and self._shifted_from is None:
                self._shifted_from = self.bank
                self.select_bank(b.select)
            elif not pressed and was and self._shifted_from is not None:
                self.select_bank(self._shifted_from)
                self._shifted_from = None
            return
        if b.preset or b.action:
            if fires:
                self._fire_action(b)
            return
        if not self._param_ok(b):
            return
        spec = self.registry.spec(str(b.param))
        mode = b.button or ("trigger" if spec.kind == "trigger" else "momentary")
        on = b.value if b.value is not None else b.range[1]
        off = b.range[0]
        if mode == "momentary":
            if pressed != was or st.written is None:
                self._write(b, on if pressed else off, source)
        elif fires:
            if mode == "toggle":
                current = self.registry.get(str(b.param))
                self._write(b, off if abs(current - on) < abs(current - off) else on, source)
            else:
                self._write(b, on, source)

    def select_bank(self, bank: str | None) -> None:
        """Wake the bindings of ``bank`` (and put the other banks' to sleep). Its faders pick up the
        values where they are (soft takeover), and every LED is sent again."""
        if bank == self.bank:
            return
        self.bank = bank
        for b in self.mapping.midi:
            st = self._state[b.index]
            st.led_level = None
            if b.bank is not None and b.bank == bank:
                st.picked, st.last_u = False, None
        log.info("%s: bank %s", self.mapping.path.name, bank)

    def _fire_action(self, b: MidiBinding) -> None:
        if b.action == "bank":
            self._shifted_from = None
            self.select_bank(b.select)
        elif b.action == "panic":
            self.actions.panic()
        elif b.action == "tap":
            self.actions.tap_tempo()
        elif b.action == "save":
            self.actions.save_preset(str(b.preset))
        else:
            self.actions.recall_preset(str(b.preset))

    def _clock(self, kind: str, source: tuple) -> None:
        if self.tempo is None:
            return
        now = self.time_fn()
        if kind == "clock":
            self.tempo.midi_clock(now)
        elif kind in ("start", "continue"):
            self.tempo.midi_start(now)
        else:
            self.tempo.midi_stop(now)
        bpm = self.tempo.clock_bpm
        if bpm is None:
            return
        for b in self._other:
            if b.control == "clock" and self._param_ok(b):
                if self._state[b.index].written is None or abs(self._state[b.index].written - bpm) >= 0.05:
                    self._write(b, bpm, source)

    def pickup_waiting(self) -> list[tuple[str, float, float]]:
        """Read-only: ``(param, control position, value position)`` (both 0..1 of the control's travel)
        for every pickup control that was moved but does not drive its parameter until it reaches the
        value (the overlay shows them). Safe to call from any thread."""
        waiting = []
        for b in self.mapping.midi:
            st = self._state[b.index]
            if b.takeover != "pickup" or b.param is None or st.last_u is None or b.param not in self.registry:
                continue
            current = self.registry.get(str(b.param))
            if st.picked and st.written == current:
                continue
            here = binding_position(b, current)
            if abs(st.last_u - here) > PICKUP_WINDOW:
                waiting.append((str(b.param), st.last_u, here))
        return waiting

    # ------------------------------------------------------------------ LEDs
    def led_messages(self, only_changed: bool = True) -> list[mido.Message]:
        """Messages that show each ``led = true`` binding's parameter on the device."""
        out = []
        for b in self.mapping.midi:
            if not b.led or (b.bank is not None and b.bank != self.bank):
                continue
            if b.select is not None:
                level = b.led_on if self.bank == b.select else b.led_off
            elif b.param is None or b.param not in self.registry:
                continue
            elif b.is_button:
                value = self.registry.get(b.param)
                on = b.value if b.value is not None else b.range[1]
                if b.button == "trigger" and b.value is not None:
                    lit = abs(value - on) < 1e-6 * max(1.0, abs(on))      # radio buttons: a seed, a mode
                else:
                    lit = abs(value - on) < abs(value - b.range[0])
                level = b.led_on if lit else b.led_off
            else:
                level = controller_value(binding_position(b, self.registry.get(b.param)))
            st = self._state[b.index]
            if only_changed and st.led_level == level:
                continue
            st.led_level = level
            channel = (b.channel or 1) - 1
            if b.control == "note":
                out.append(mido.Message("note_on", channel=channel, note=int(b.number or 0), velocity=level))
            elif b.control in ("cc", "cc14"):
                out.append(mido.Message("control_change", channel=channel, control=int(b.number or 0),
                                        value=level))
        return out

    # ------------------------------------------------------------------ internals
    def _apply_smoothing(self) -> None:
        """A binding's ``smoothing`` becomes its parameter's slew while this mapping is loaded (a
        registry override: the shared spec is untouched, and a model swap keeps it)."""
        for b in self.mapping.midi:
            if b.smoothing is not None and b.param in self.registry:
                self.registry.set_smoothing(str(b.param), b.smoothing)

    def _report(self, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            log.warning("%s", message)


def _channel_ok(b: MidiBinding, channel: int) -> bool:
    return b.channel is None or b.channel == channel
