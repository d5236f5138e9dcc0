"""Control test setup: a registry with the engine's parameter names, a recording Actions, and a dummy
JACK server that gives the MIDI tests real virtual ports (skipped through ``missing_resource``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from types import SimpleNamespace

import pytest

from engine.core.params import ParamRegistry
from tests.conftest import missing_resource
from tests.helpers import RecordingActions
from tests.jack_registry import free_server_name, registry_full_hint

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


def engine_registry(num_layers: int = 18) -> ParamRegistry:
    """A registry with the live engine's own parameter declarations, for both StyleGAN families
    (noise strength of StyleGAN2 and the input transform of StyleGAN3)."""
    from engine.blend.masks import params as blend_params
    from engine.latents import params as latent_params
    from engine.show.catalog import engine_params

    reg = ParamRegistry()
    reg.add_all(engine_params() + blend_params(num_layers))
    for family in ("stylegan2", "stylegan3"):
        reg.add_all(latent_params(SimpleNamespace(num_ws=num_layers, c_dim=0, family=family)))
    return reg


@pytest.fixture
def registry() -> ParamRegistry:
    return engine_registry()


@pytest.fixture
def actions() -> RecordingActions:
    return RecordingActions()


def _die_with_parent() -> None:
    """In the jackd child: get SIGTERM when the test process dies, even by a crash (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@pytest.fixture(scope="session")
def _jack_server():
    """Start ``jackd`` with the dummy driver under a free name of a fixed pool (see
    ``tests/jack_registry.py``: random names filled JACK's registry); yields (name, error).

    A probe port stays open for the whole session: libjack tears down its per-process state whenever
    the last client of the process closes, and keeping one client alive avoids that churn. jackd's
    output goes to a file, not a pipe: on a busy machine it prints a line per xrun, and a pipe nobody
    reads fills up and blocks the server (every client call, and the teardown, then hang).
    """
    if shutil.which("jackd") is None:
        yield None, "jackd is not installed (apt-get install jackd2)"
        return
    name, why = free_server_name("netblend-test")
    if name is None:
        yield None, why
        return
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(["jackd", "--no-realtime", "-t", "10000", "-n", name,
                             "-d", "dummy", "-r", "48000", "-p", "256"],
                            stdout=subprocess.DEVNULL, stderr=log, preexec_fn=_die_with_parent)
    old = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "MIDO_BACKEND", "JACK_NO_START_SERVER")}
    os.environ.update(JACK_DEFAULT_SERVER=name, MIDO_BACKEND=JACK_BACKEND, JACK_NO_START_SERVER="1")
    probe, error = _wait_for_jack(proc, log)
    try:
        yield (None, error) if error else (name, None)
    finally:
        _stop_jack(proc, probe)
        log.close()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def within(seconds: float, action) -> bool:
    """Run ``action()`` on a helper thread; whether it finished within ``seconds`` (a hung libjack
    call is left behind on its daemon thread instead of hanging the test session)."""
    worker = threading.Thread(target=action, name="netblend-test-teardown", daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive()


def _stop_jack(proc: subprocess.Popen, probe, grace: float = 3.0) -> None:
    """Close the probe, then stop jackd: terminate, then kill; every wait bounded (a few seconds at
    worst, never minutes)."""
    if probe is not None and not within(grace, probe.close):
        print(f"\njackd teardown: the probe port did not close within {grace:g} s; stopping the server anyway")
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            print(f"\njackd teardown: pid {proc.pid} survived SIGKILL for {grace:g} s; left to the system")


def _wait_for_jack(proc: subprocess.Popen, log):
    """Poll until a JACK client can open a port (~0.2 s); returns (probe port, None) or (None, error)."""
    from engine.control.midi_ports import get_backend

    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace").strip().splitlines()
            reason = next((line for line in err if "Too many servers" in line), err[-1] if err else "no message")
            return None, f"jackd exited with {proc.returncode}: {reason}{registry_full_hint()}"
        try:
            return get_backend(JACK_BACKEND).open_output("netblend-test-probe", virtual=True), None
        except (OSError, SystemError):
            time.sleep(0.1)
    return None, "jackd did not become ready within 5 s"


@pytest.fixture
def jack(request, _jack_server):
    """A (serialized) mido backend on the test JACK server; skips the test when JACK is unavailable."""
    from engine.control.midi_ports import get_backend

    name, error = _jack_server
    if error:
        missing_resource(request.config, "midi", error)
    return get_backend(JACK_BACKEND)
