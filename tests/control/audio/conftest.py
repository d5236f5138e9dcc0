"""Real audio through a dummy JACK server of these tests' own: a JACK client of ours plays generated
signals into an output port that PortAudio lists as an input device.

Why a server of its own (not the MIDI tests' one): python-rtmidi bundles its own copy of libjack, while
PortAudio and JACK-Client use the system's; two copies in one process talking to one server, plus
a client whose process callback is Python (the player's, which needs the GIL) next to rtmidi calls
that block in JACK holding the GIL, hung the MIDI tests. Here the server starts for the module and
stops after it; PortAudio lets go of JACK first (its exit handler aborts on a vanished server), and
a watchdog kills the server if anything hangs, so a test run never hangs on it. PortAudio also lets
go of JACK *before* the player starts: importing sounddevice while the MIDI tests' server was up left
it a client there, and a process whose libjack talks to two servers reads one's ports through the
other's graph (the player's audio port then reported itself as MIDI).

The JACK resource counts as the ``midi`` resource: ``scripts/test`` installs JACK and PortAudio, and
``--require-midi`` turns their absence into a failure.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from tests.conftest import missing_resource
from tests.jack_registry import free_server_name, registry_full_hint

PLAYER = "netblend-tone"
WATCHDOG_SECONDS = 120.0        # the server is killed after this, whatever the tests are doing


class TonePlayer:
    """A JACK client with one output port that plays whatever :meth:`play` was last given."""

    def __init__(self, server: str):
        import jack

        self.client = jack.Client(PLAYER, servername=server, no_start_server=True)
        self.port = self.client.outports.register("out_1")
        self.rate = self.client.samplerate
        self._lock = threading.Lock()
        self._signal = np.zeros(0, dtype=np.float32)
        self._loop = False
        self._pos = 0
        self.client.set_process_callback(self._process)
        self.client.activate()

    def play(self, samples: np.ndarray, loop: bool = False) -> None:
        with self._lock:
            self._signal, self._loop, self._pos = np.asarray(samples, dtype=np.float32), loop, 0

    def silence(self) -> None:
        self.play(np.zeros(0, dtype=np.float32))

    def _process(self, frames: int) -> None:
        out = self.port.get_array()
        out[:] = 0.0
        with self._lock:
            sig, n = self._signal, len(self._signal)
            i = 0
            while n and i < frames and (self._loop or self._pos < n):
                take = min(frames - i, n - self._pos)
                out[i:i + take] = sig[self._pos:self._pos + take]
                i += take
                self._pos += take
                if self._pos >= n and self._loop:
                    self._pos = 0

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def _die_with_parent() -> None:
    """In the jackd child: get SIGTERM when the test process dies, even by a crash (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start_player(proc: subprocess.Popen, name: str):
    """Wait until the server takes a client (~0.2 s); returns (player, None) or (None, error)."""
    deadline = time.monotonic() + 5.0
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
            return None, f"jackd exited with {proc.returncode}: {err[-1] if err else 'no message'}"
        try:
            return TonePlayer(name), None
        except Exception as e:  # jack.JackOpenError until the server is up
            last = str(e)
            time.sleep(0.1)
    return None, f"jackd did not take a client within 5 s ({last})"


def _start_server(env: pytest.MonkeyPatch) -> tuple[subprocess.Popen | None, TonePlayer | None, str | None]:
    """A dummy JACK server under a free name of a small fixed pool (``tests/jack_registry.py`` says
    why fixed names), with the player on it."""
    name, why = free_server_name("netblend-audio-test")
    if name is None:
        return None, None, why
    proc = subprocess.Popen(["jackd", "--no-realtime", "-t", "2000", "-n", name, "-d", "dummy",
                             "-r", "48000", "-p", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
    player, error = _start_player(proc, name)
    if player is None:
        _stop(proc)
        return proc, None, f"{error}{registry_full_hint()}"
    env.setenv("JACK_DEFAULT_SERVER", name)              # where PortAudio's JACK host API connects
    return proc, player, None


@pytest.fixture(scope="module")
def _portaudio_on_jack():
    """(sounddevice module, player) on a fresh dummy JACK server, or (None, why not)."""
    if shutil.which("jackd") is None:
        yield None, "jackd is not installed (apt-get install jackd2)"
        return
    try:
        import jack  # noqa: F401
        import sounddevice as sd
    except ImportError as e:
        yield None, f"{e.name} is not installed (pip install -e '.[test]')"
        return
    except OSError:
        yield None, "PortAudio is missing (apt-get install libportaudio2)"
        return
    while sd._initialized:      # PortAudio may hold a JACK client on another server (the MIDI tests',
        sd._terminate()         # when they ran first); libjack serves one server per process at a time
    env = pytest.MonkeyPatch()
    proc, player, error = _start_server(env)
    if proc is None:
        yield None, error
        return
    watchdog = threading.Timer(WATCHDOG_SECONDS, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield (sd, player) if player else (None, error)
    finally:
        if player is not None:
            player.close()
        while sd._initialized:                          # let go of JACK before the server stops
            sd._terminate()
        _stop(proc)
        watchdog.cancel()
        env.undo()


@pytest.fixture
def jack_audio(request, _portaudio_on_jack):
    sd, player = _portaudio_on_jack
    if sd is None:
        missing_resource(request.config, "midi", f"JACK audio: {player}")
    player.silence()
    yield player
    player.silence()
