"""A small TOML writer for the files netblend writes itself: presets and learned MIDI bindings.

Python reads TOML (``tomllib``) but cannot write it, and the files we write are plain data, so this
covers exactly what they need: tables, arrays of tables, strings, ints, floats (including ``inf`` and
``nan``), bools and (nested) arrays; a dict inside an array becomes an inline table. Key order is kept,
so a saved file reads in the order the program built it.

:func:`write_atomic` writes a file so that a crash at any moment leaves either the old file or the new
one, whole: a temporary file in the same folder, flushed and fsynced, then ``os.replace``.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeGuard

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _read_umask() -> int:
    """The process umask (read once at import, while no other thread can be writing files)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_read_umask()      # what open() would give: mkstemp alone makes 0600 files
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def dumps(document: Mapping[str, object]) -> str:
    """Render a mapping as TOML text. Raises TypeError for values TOML cannot hold (None, objects)."""
    lines: list[str] = []
    _write_table(lines, document, ())
    return "\n".join(lines).lstrip("\n") + "\n"


def write_atomic(path: str | os.PathLike[str], document: Mapping[str, object], header: str = "") -> Path:
    """Write ``document`` as TOML to ``path`` atomically; ``header`` lines are prepended as comments."""
    path = Path(path)
    text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + dumps(document)
    write_text_atomic(path, text)
    return path


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` so that readers only ever see the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if hasattr(os, "chmod"):
            os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows opening a folder (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_table_array(value: object) -> TypeGuard[Sequence[Mapping[str, object]]]:
    return (isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) > 0
            and all(isinstance(item, Mapping) for item in value))


def _write_table(lines: list[str], table: Mapping[str, object], path: tuple[str, ...]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)]
    for key, value in scalars:
        lines.append(f"{format_key(key)} = {format_value(value)}")
    for key, value in table.items():
        if isinstance(value, Mapping):
            sub = path + (str(key),)
            lines.append("")
            lines.append(f"[{'.'.join(format_key(k) for k in sub)}]")
            _write_table(lines, value, sub)
        elif _is_table_array(value):
            sub = path + (str(key),)
            for item in value:
                lines.append("")
                lines.append(f"[[{'.'.join(format_key(k) for k in sub)}]]")
                _write_table(lines, item, sub)


def format_key(key: object) -> str:
    """A bare key where TOML allows one, else a quoted key."""
    if not isinstance(key, str):
        raise TypeError(f"TOML keys are strings, got {type(key).__name__}")
    return key if _BARE_KEY.match(key) else format_string(key)


def format_string(text: str) -> str:
    """A TOML basic string with every character TOML requires escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_value(value: object) -> str:
    """One TOML value: string, bool, int, float, array or inline table."""
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest text that reads back to the same float; always has '.' or 'e'
    if isinstance(value, Mapping):
        inner = ", ".join(f"{format_key(k)} = {format_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if hasattr(value, "item"):  # numpy scalars, 0-d tensors
        return format_value(value.item())  # type: ignore[attr-defined]
    raise TypeError(f"TOML cannot hold a value of type {type(value).__name__}")
