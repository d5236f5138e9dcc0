"""MIDI in a running show: the controllers of the mapping files, and learn mode while playing.

Each controller mapping gets its :class:`MidiPorts` (its own port pattern and LED output). Learn mode
(``/midi/learn PARAM`` over OSC, or :meth:`LiveMidi.learn`) arms every open input: the next control
moved is bound to PARAM, written into the learn file, and works at once; the file is a normal
mapping file, so ``--mapping learned.toml`` brings the bindings back next time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import mido

from .learn import MidiLearn, learn_from_ports
from .mapping import Mapping, load_mapping
from .midi import MidiAdapter
from .midi_ports import MidiPorts, MidiPortsConfig

log = logging.getLogger("netblend")


class LiveMidi:
    """Open controllers of one show; every input also feeds the bindings learned during the show."""

    def __init__(self, registry, actions, tempo=None, learn_file: str | Path = "learned.toml",
                 backend: str | None = None):
        self.registry = registry
        self.actions = actions
        self.tempo = tempo
        self.learn_file = Path(learn_file)
        self.backend = backend
        self.ports: list[MidiPorts] = []
        self.adapters: list[MidiAdapter] = []              # one per controller mapping
        self.learned: MidiAdapter | None = None            # bindings learned in this show
        self.learning: threading.Thread | None = None

    def _adapter(self, mapping: Mapping) -> MidiAdapter:
        return MidiAdapter(mapping, self.registry, self.actions, tempo=self.tempo)

    def pickup_waiting(self) -> list[tuple[str, float, float]]:
        """Controls of every mapping waiting for pickup (see :meth:`MidiAdapter.pickup_waiting`)."""
        learned = [self.learned] if self.learned is not None else []
        return [w for adapter in [*self.adapters, *learned] for w in adapter.pickup_waiting()]

    def open(self, mappings: Sequence[Mapping], port_pattern: str | None = None) -> list[str]:
        """Open the inputs of each controller mapping (``port_pattern`` overrides their [device].port);
        with no mapping but a pattern, open those inputs for learn mode only. Returns status lines.
        Raises MidiUnavailable when there is no MIDI system."""
        lines = []
        targets: list[tuple[Mapping | None, MidiAdapter | None]] = [(m, self._adapter(m)) for m in mappings]
        targets = targets or [(None, None)]
        self.adapters.extend(a for _, a in targets if a is not None)
        for mapping, adapter in targets:
            pattern = port_pattern or (mapping.device.port if mapping is not None else None)
            config = MidiPortsConfig(input_pattern=pattern, backend=self.backend,
                                     output_pattern=mapping.device.output if mapping is not None else None)

            def handle(msg: mido.Message, port: str, adapter: MidiAdapter | None = adapter) -> None:
                if adapter is not None:
                    adapter.handle(msg, port)
                if self.learned is not None:
                    self.learned.handle(msg, port)

            ports = MidiPorts(config, handle, led_source=adapter.led_messages if adapter else None).start()
            self.ports.append(ports)
            name = mapping.path.name if mapping is not None else "learn mode"
            found = ", ".join(ports.connected) or f"none yet (waiting for a port matching {pattern!r})"
            lines.append(f"MIDI {name}: {found}")
        return lines

    def learn(self, param: str, timeout: float = 30.0) -> threading.Thread | None:
        """Bind the next control moved on any open input to ``param`` (in the background)."""
        if not self.ports:
            log.warning("MIDI learn needs an open controller: start with --mapping FILE or --midi-port REGEX")
            return None
        if param not in self.registry:
            log.warning("MIDI learn: unknown parameter %r (`netblend osc` lists them)", param)
            return None
        if self.registry.spec(param).readonly:
            log.warning("MIDI learn: %s is a measured value (read-only); bind a parameter you play", param)
            return None
        if self.learning is not None and self.learning.is_alive():
            log.warning("MIDI learn is already waiting for a control")
            return None
        learner = MidiLearn(param, spec=self.registry.spec(param))

        def work() -> None:
            try:
                binding = learn_all(self.ports, learner, self.learn_file, timeout)
            except Exception as e:  # a file that cannot be written must not stop anything
                log.warning("MIDI learn for %s failed: %s", param, e)
                return
            if binding is None:
                log.warning("MIDI learn for %s: no control moved within %.0f s", param, timeout)
                return
            self.learned = self._adapter(load_mapping(self.learn_file))
            log.warning("MIDI learn: %s now follows %s (saved in %s)", param, binding.get("control"),
                        self.learn_file)

        self.learning = threading.Thread(target=work, name="netblend-midi-learn", daemon=True)
        self.learning.start()
        return self.learning

    def close(self) -> None:
        for ports in self.ports:
            ports.close()
        self.ports.clear()


def learn_all(ports: Sequence[MidiPorts], learner: MidiLearn, path: Path, timeout: float) -> dict | None:
    """Arm ``learner`` on every input, wait for a control, write it (see ``learn_from_ports``)."""
    first, *others = ports
    for p in others:
        p.intercept = learner.offer
    try:
        return learn_from_ports(first, learner, path, timeout)
    finally:
        for p in others:
            p.intercept = None
