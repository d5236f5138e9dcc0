"""User-facing errors. Each message is one line that names the problem and the fix.

The CLI prints ``netblend: error: <message>`` for any of these and exits with status 2, never a
traceback; the live engine logs them and keeps playing.
"""


class NetblendError(Exception):
    """Base of every error a user (or a network peer) can cause."""


class ModelLoadError(NetblendError):
    """A model file that is missing, corrupt, unsafe or of an unknown kind."""


class IncompatibleModels(NetblendError):
    """Models that cannot be blended (different keys or shapes)."""


class LatentFileError(NetblendError):
    """A W/W+ file that is unreadable or made for another model."""


class PresetError(NetblendError):
    """A preset that cannot be read, written or recalled (bad name, bad content)."""


class MappingError(NetblendError):
    """A controller/OSC mapping file that does not validate."""


class OscError(NetblendError):
    """An OSC port that cannot be opened or an OSC address that cannot be used."""


class ModulationError(NetblendError):
    """A ``[[mod]]`` table (LFO, envelope follower) that does not validate or cannot be routed."""


class AudioError(NetblendError):
    """An audio input or audio file that cannot be opened or read (missing device, PortAudio, codec)."""
