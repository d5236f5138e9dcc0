"""Which MIDI system netblend talks to, and talking to it safely.

mido's default backend (python-rtmidi) uses ALSA's sequencer on Linux. A machine that runs JACK without
ALSA's sequencer (no ``/dev/snd/seq``: a container, a headless box, a JACK-only audio setup) would need
``MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK`` to see its ports: :func:`choose_backend` finds the
JACK server itself (by connecting to its socket, which starts nothing and prints nothing) and picks
JACK there. ``MIDO_BACKEND`` still wins when set.

ALSA's library prints its own error lines to stderr ("ALSA lib seq_hw.c:466:(snd_seq_hw_open) open
/dev/snd/seq failed ...") before python-rtmidi raises; :func:`quiet_alsa` routes them to the debug log
instead, and the failure becomes one :class:`MidiUnavailable` line: "no MIDI system available".
"""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping

import mido

from ..errors import NetblendError

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "mido.backends.rtmidi"
JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


# Every port list, open and close goes through this lock. Each of them opens a client of the MIDI
# system, and libjack's per-process state is not safe against clients opened and closed from two
# threads at once (it crashed the process in testing).
BACKEND_LOCK = threading.RLock()


class MidiUnavailable(NetblendError):
    """There is no MIDI system to talk to (no ALSA sequencer, no JACK server, ...)."""


class SerializedBackend:
    """A mido backend whose port listing, opening and closing hold :data:`BACKEND_LOCK`."""

    def __init__(self, backend: mido.Backend):
        self.backend = backend
        self.name = backend.name          # module, e.g. "mido.backends.rtmidi"
        self.api = backend.api            # e.g. "UNIX_JACK" (None = the backend's default)

    def get_input_names(self) -> list[str]:
        with BACKEND_LOCK:
            return self.backend.get_input_names()

    def get_output_names(self) -> list[str]:
        with BACKEND_LOCK:
            return self.backend.get_output_names()

    def open_input(self, name: str | None = None, virtual: bool = False, callback=None) -> LockedPort:
        with BACKEND_LOCK:
            return LockedPort(self.backend.open_input(name, virtual=virtual, callback=callback))

    def open_output(self, name: str | None = None, virtual: bool = False) -> LockedPort:
        with BACKEND_LOCK:
            return LockedPort(self.backend.open_output(name, virtual=virtual))


class LockedPort:
    """A mido port whose ``close`` holds :data:`BACKEND_LOCK`; everything else passes through."""

    def __init__(self, port):
        self._port = port

    def __getattr__(self, attr):
        return getattr(self._port, attr)

    def close(self) -> None:
        with BACKEND_LOCK:
            self._port.close()


def get_backend(name: str | None = None) -> SerializedBackend:
    """The mido backend named ``name``, else ``$MIDO_BACKEND``, else the one :func:`choose_backend`
    finds (JACK on a Linux machine without an ALSA sequencer), loaded now."""
    if not name:
        name, why = choose_backend()
        log.debug("MIDI backend %s (%s)", name, why)
    if name.startswith("mido.backends.rtmidi"):
        quiet_alsa()
    try:
        return SerializedBackend(mido.Backend(name, load=True))
    except ImportError as e:
        raise MidiUnavailable(f"MIDI backend {name} cannot load ({e}); pip install python-rtmidi") from None


def port_names(backend, output: bool = False) -> list[str]:
    """Input (or output) port names; raises :class:`MidiUnavailable` when there is no MIDI system."""
    try:
        return list(backend.get_output_names() if output else backend.get_input_names())
    except (SystemError, OSError) as e:
        raise MidiUnavailable(f"no MIDI system available ({e}); on Linux load snd-seq or start JACK") from None


# ---------------------------------------------------------------------- choosing the backend
def alsa_sequencer_present() -> bool:
    """Whether ALSA's sequencer device exists (it is what rtmidi's ALSA backend opens)."""
    return os.path.exists("/dev/snd/seq")


def jack_sockets(server: str, uid: int) -> list[str]:
    """Where a JACK server named ``server`` keeps its socket (JACK 2, then JACK 1 layouts)."""
    return [f"{folder}/jack_{server}_{uid}_0" for folder in ("/dev/shm", "/tmp")] + \
           [f"{folder}/jack-{uid}/{server}/jack_0" for folder in ("/dev/shm", "/tmp")]


def jack_server_running(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the JACK server clients would use (``$JACK_DEFAULT_SERVER`` or "default") answers on
    its socket. Nothing is started and nothing is printed; a socket left by a dead server refuses."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        return False
    server = env.get("JACK_DEFAULT_SERVER") or "default"
    for path in jack_sockets(server, os.getuid()):
        if not os.path.exists(path):
            continue
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(path)
            return True
        except OSError:
            continue
        finally:
            probe.close()
    return False


def choose_backend(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> tuple[str, str]:
    """``(backend name, why)``: ``$MIDO_BACKEND``; on Linux without ALSA's sequencer a running JACK
    server; else mido's default (ALSA on Linux, CoreMIDI on macOS, Windows MM on Windows)."""
    if env.get("MIDO_BACKEND"):
        return env["MIDO_BACKEND"], "MIDO_BACKEND"
    if platform.startswith("linux") and not alsa_sequencer_present():
        if jack_server_running(env):
            os.environ.setdefault("JACK_NO_START_SERVER", "1")     # use the server found, never spawn one
            return JACK_BACKEND, "no ALSA sequencer (/dev/snd/seq); a JACK server is running"
        return DEFAULT_BACKEND, "no ALSA sequencer and no JACK server"
    return DEFAULT_BACKEND, "the system's MIDI"


# ---------------------------------------------------------------------- ALSA's own error lines
_ALSA_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_char_p)
_quiet: list = []               # the installed handler (kept alive), once


def _alsa_error(file: bytes | None, line: int, function: bytes | None, err: int, fmt: bytes | None) -> None:
    log.debug("ALSA: %s:%d %s: %s (%d)", (file or b"").decode(errors="replace"), line,
              (function or b"").decode(errors="replace"), (fmt or b"").decode(errors="replace"), err)


def quiet_alsa() -> bool:
    """Send libasound's error lines to the debug log instead of stderr (Linux; idempotent).

    Returns whether the handler is installed (False where there is no libasound)."""
    if _quiet:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        library = ctypes.CDLL("libasound.so.2")
        handler = _ALSA_HANDLER(_alsa_error)
        library.snd_lib_error_set_handler(handler)
    except (OSError, AttributeError):
        return False
    _quiet.append(handler)
    return True
