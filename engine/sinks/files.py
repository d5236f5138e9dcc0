"""Files that outputs write: checked before the show, written whole or not at all."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from .base import SinkError


def check_folder(folder: Path, who: str) -> None:
    """Raise SinkError unless files can be created in ``folder`` (or it can be created); leaves nothing."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SinkError(f"{who}: {existing} is not a folder; choose another place")
    try:
        if existing == folder:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".netblend-probe-")
            os.close(fd)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".netblend-probe-"))
    except OSError as e:
        raise SinkError(f"{who}: cannot write in {folder} ({e.strerror or e}); choose a folder you can write to") \
            from None


def write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name in the same folder, then rename: ``path``
    is either complete or absent, never a partial file. Raises OSError (the temporary file is removed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)     # the user's umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
