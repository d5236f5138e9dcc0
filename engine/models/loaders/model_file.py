"""Opening a model file safely: regular files only, opened without blocking, errors as one line.

A FIFO, a device (``/dev/zero``), a socket or a directory is refused before a byte is read: opening
a FIFO for reading normally blocks until a writer appears (a hung ``inspect`` or a leaked loader
thread), and a device can stream forever. The file is opened with ``O_NONBLOCK`` and checked with
``fstat`` on the open descriptor, so a path swapped for a FIFO between a check and the open cannot
hang the reader either. Every ``OSError`` (no such file, permission denied, a 5,000-character name)
becomes a ``ModelLoadError`` naming the path.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from pathlib import Path
from typing import BinaryIO

from engine.errors import ModelLoadError

ZIP_MAGIC = b"PK\x03\x04"
MAX_INFLATION = 4            # a zip may declare at most this many times its own size, uncompressed ...
INFLATION_ALLOWANCE = 1 << 20  # ... plus this (torch.save stores its members uncompressed)
MAX_ZIP_MEMBERS = 100_000
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def model_path(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` (``~`` expanded); a path that cannot name a file is a ModelLoadError."""
    try:
        return Path(path).expanduser()
    except (TypeError, ValueError, RuntimeError) as e:
        raise ModelLoadError(f"{path!s}: not a usable file path ({e}); check the path") from e


def open_model_file(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file; ModelLoadError otherwise."""
    path = model_path(path)
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _BINARY)
    except (OSError, ValueError) as e:
        raise _open_error(path, e) from e
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ModelLoadError(f"{path}: is a directory, not a model file; pass the .pkl/.pt file inside it")
        if not stat.S_ISREG(mode):
            raise ModelLoadError(f"{path}: {_kind(mode)}, not a model file; pass the .pkl, .pt or "
                                 f".netblend.safetensors file itself")
        if _NONBLOCK:
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_model_file(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` once it is known to be a readable regular file (see ``open_model_file``)."""
    path = model_path(path)
    with open_model_file(path):
        pass
    return path


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _open_error(path: Path, error: Exception) -> ModelLoadError:
    code = getattr(error, "errno", None)
    if code == errno.ENOENT:
        return ModelLoadError(f"{path}: no such model file; check the path")
    if code == errno.EISDIR:
        return ModelLoadError(f"{path}: is a directory, not a model file; pass the .pkl/.pt file inside it")
    if code == errno.ENAMETOOLONG:
        return ModelLoadError(f"{path}: the file name is too long for this system; check the path")
    if code in (errno.EACCES, errno.EPERM):
        return ModelLoadError(f"{path}: permission denied; make the model file readable")
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return ModelLoadError(f"{path}: cannot open the model file ({reason}); check the path")


class ZipBombError(ModelLoadError):
    """A zip archive that declares far more data than it holds (message without the file name)."""


def check_zip_sizes(stream: BinaryIO, size: int) -> None:
    """Refuse a zip archive (``torch.save``'s format) whose members would inflate past a bound.

    ``stream`` is seekable and positioned at the archive's start (it is left there); a stream that is
    not a zip archive is left for the caller's reader to judge. Only the central directory is read.
    """
    start = stream.tell()
    if stream.read(4) != ZIP_MAGIC:
        stream.seek(start)
        return
    stream.seek(start)
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise ZipBombError(f"the zip archive lists {len(members):,} members")
            declared = sum(info.file_size for info in members)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError) as e:
        raise ZipBombError(f"a zip archive inside the file is unreadable ({e})") from e
    finally:
        stream.seek(start)
    limit = MAX_INFLATION * size + INFLATION_ALLOWANCE
    if declared > limit:
        raise ZipBombError(f"a {size:,}-byte zip archive would inflate to {declared:,} bytes "
                           f"(a decompression bomb; netblend allows {limit:,})")
