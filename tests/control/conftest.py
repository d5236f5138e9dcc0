"""Control test setup: a registry with the engine's parameter names, a recording Actions, and a dummy
JACK server that gives the MIDI tests real virtual ports (skipped through ``missing_resource``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from engine.control.actions import Actions
from engine.core.params import ParamRegistry, ParamSpec
from tests.conftest import missing_resource

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


def engine_registry(num_layers: int = 18) -> ParamRegistry:
    """A registry with the names the live engine declares (ranges as the blend/latent modules use)."""
    reg = ParamRegistry()
    specs = [ParamSpec(f"blend.layer.{i}", 0.0, -2.0, 3.0) for i in range(num_layers)]
    specs += [
        ParamSpec("blend.curve.amount", 0.0, -2.0, 3.0),
        ParamSpec("blend.curve.center", 0.5, 0.0, 1.0),
        ParamSpec("blend.curve.width", 0.1, 0.0, 1.0),
        ParamSpec("blend.curve.direction", 0.0, kind="choice", choices=("up", "down")),
        ParamSpec("blend.mapping", 0.0, -2.0, 3.0),
        ParamSpec("blend.panic", kind="trigger"),
        ParamSpec("latent.seed", 0.0, 0.0, 2**31 - 1, kind="int"),
        ParamSpec("latent.psi", 1.0, -1.0, 2.0),
        ParamSpec("latent.next_seed", kind="trigger"),
        ParamSpec("latent.walk.mode", 0.0, kind="choice", choices=("off", "lerp", "slerp", "noise", "circle")),
        ParamSpec("latent.walk.period", 8.0, 0.25, 120.0),
        ParamSpec("latent.walk.radius", 0.5, 0.0, 4.0),
        ParamSpec("latent.noise.strength", 1.0, 0.0, 4.0),
        ParamSpec("engine.pause", 0.0, kind="bool"),
        ParamSpec("tempo.bpm", 120.0, 20.0, 300.0),
        ParamSpec("tempo.tap", kind="trigger"),
        ParamSpec("preset.morph", 0.0, 0.0, 60.0),
    ]
    for kind in ("conv", "affine", "torgb", "noise"):
        specs += [ParamSpec(f"blend.kind.{kind}", 0.0, -2.0, 3.0),
                  ParamSpec(f"blend.kind.{kind}.amount", 0.0, 0.0, 1.0)]
    reg.add_all(specs)
    return reg


class RecordingActions(Actions):
    """Actions that remember every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def recall_preset(self, name, morph=None):
        self.calls.append(("recall_preset", name, morph))

    def save_preset(self, name):
        self.calls.append(("save_preset", name))

    def tap_tempo(self):
        self.calls.append(("tap_tempo",))

    def panic(self):
        self.calls.append(("panic",))


@pytest.fixture
def registry() -> ParamRegistry:
    return engine_registry()


@pytest.fixture
def actions() -> RecordingActions:
    return RecordingActions()


@pytest.fixture(scope="session")
def _jack_server():
    """Start ``jackd`` with the dummy driver under a unique name; yields (name, error)."""
    if shutil.which("jackd") is None:
        yield None, "jackd is not installed (apt-get install jackd2)"
        return
    name = f"netblend-test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    old = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "MIDO_BACKEND", "JACK_NO_START_SERVER")}
    os.environ.update(JACK_DEFAULT_SERVER=name, MIDO_BACKEND=JACK_BACKEND, JACK_NO_START_SERVER="1")
    error = _wait_for_jack(proc)
    try:
        yield (None, error) if error else (name, None)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_for_jack(proc: subprocess.Popen) -> str | None:
    """Poll until a JACK client can list ports (ready in ~0.2 s); the error text if it never is."""
    import mido
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
            return f"jackd exited with {proc.returncode}: {err[-1] if err else 'no message'}"
        try:
            backend = mido.Backend(JACK_BACKEND, load=True)
            port = backend.open_output(f"probe-{uuid.uuid4().hex[:6]}", virtual=True)
            port.close()
            return None
        except (OSError, SystemError):
            time.sleep(0.1)
    return "jackd did not become ready within 5 s"


@pytest.fixture
def jack(request, _jack_server):
    """A mido backend on the test JACK server (skips the test when JACK is unavailable)."""
    import mido
    name, error = _jack_server
    if error:
        missing_resource(request.config, "midi", error)
    return mido.Backend(JACK_BACKEND, load=True)
