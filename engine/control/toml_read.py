"""Reading the TOML files people write for netblend (mappings, presets): one place for the Python
3.10 fallback and for turning each way a read can fail into a one-line error of the caller's kind.

Files saved by Windows Notepad start with a UTF-8 byte order mark: it is accepted. A file is read only
if it is a regular file of at most :data:`MAX_BYTES` (a FIFO or a device never blocks the reader),
and nesting too deep for the parser is a one-line error, not a traceback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TOMLDecodeError = tomllib.TOMLDecodeError
MAX_BYTES = 1024 * 1024         # a mapping or preset is a few KB


class TooDeep(RecursionError):
    """TOML nested deeper than the parser can follow (a RecursionError, as the parser raised it)."""


def loads(text: str) -> dict:
    """Parse TOML text, a leading byte order mark allowed (raises :data:`TOMLDecodeError` or
    :class:`TooDeep`)."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except RecursionError:
        raise TooDeep("nested too deeply") from None


def _read_bytes(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        if info.st_size > MAX_BYTES:
            raise OSError(f"{info.st_size} bytes; at most {MAX_BYTES // 1024} KB")
        return os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)


def read_toml(path: Path, error: type[Exception], what: str, missing: str) -> dict:
    """The parsed file, or ``error`` with a message naming the file, the problem and the fix.

    ``what`` names the kind of file ("mapping file", "preset file"); ``missing`` is the whole message
    for a path that does not exist (where to find one)."""
    try:
        return loads(_read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        raise error(missing) from None
    except OSError as e:
        raise error(f"{path}: cannot read the {what} ({e.strerror or e}); check the file and its "
                    "permissions") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: the {what} is not UTF-8 text ({e.reason} at byte {e.start}); save it as "
                    "UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: the {what} is not valid TOML ({e}); fix the syntax at that line") from None
    except TooDeep:
        raise error(f"{path}: the {what} nests tables or arrays too deeply to be a {what}") from None
