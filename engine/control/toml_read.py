"""Reading the TOML files people write for netblend (mappings, presets): one place for the Python
3.10 fallback and for turning each way a read can fail into a one-line error of the caller's kind."""

from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict:
    """Parse TOML text (raises :data:`TOMLDecodeError`)."""
    return tomllib.loads(text)


def read_toml(path: Path, error: type[Exception], what: str, missing: str) -> dict:
    """The parsed file, or ``error`` with a message naming the file, the problem and the fix.

    ``what`` names the kind of file ("mapping file", "preset file"); ``missing`` is the whole message
    for a path that does not exist (where to find one)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(missing) from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read the {what} ({e}); check the file and its permissions") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: the {what} is not valid TOML ({e}); fix the syntax at that line") from None
