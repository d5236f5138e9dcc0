"""Range rows: one ``[[midi]]`` or ``[[osc]]`` table that stands for several bindings.

A row becomes several bindings when one of its keys lists them:

- ``number``, ``channel`` and ``index`` take a span ``"0-7"`` (inclusive) or a list ``[0, 2, 4]``;
- ``param``, ``preset``, ``value``, ``bank`` and ``address`` take a list with one entry per binding;
- ``{i}`` in ``param``, ``preset`` or ``address`` (and ``value = "{i}"``) is replaced by each binding's
  index: ``index`` when the row gives one, else 0, 1, 2, ...

Every list and span of one row must have the same length. So eight faders on layers 8-15 are::

    [[midi]]
    control = "cc"
    number = "0-7"
    index = "8-15"
    param = "blend.layer.{i}"

Expansion happens before validation: each expanded binding is checked like a hand-written one, and
messages name the row (``[[midi]] #3``) and the binding within it (``[[midi]] #3.5``).
"""

from __future__ import annotations

import re

from ..errors import MappingError

PER_ROW = ("number", "channel", "index", "value", "param", "preset", "bank", "address")
SPANS = ("number", "channel", "index")      # may also be written "A-B"
TEMPLATES = ("param", "preset", "address")  # may hold {i}
MAX_ROWS = 128                              # bindings one row may expand to
_SPAN = re.compile(r"^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$")


def _span(text: str, where: str, key: str) -> list[int]:
    match = _SPAN.match(text)
    if not match:
        raise MappingError(f"{where}: {key} = {text!r} is not a span; write \"0-7\" (first-last) or a list")
    first, last = int(match[1]), int(match[2])
    if last < first:
        raise MappingError(f"{where}: {key} = {text!r} runs backwards; write \"{last}-{first}\"")
    if last - first + 1 > MAX_ROWS:
        raise MappingError(f"{where}: {key} = {text!r} spans more than {MAX_ROWS} bindings")
    return list(range(first, last + 1))


def _uses_index(raw: dict) -> bool:
    return any("{i}" in raw[k] for k in TEMPLATES if isinstance(raw.get(k), str)) or raw.get("value") == "{i}"


def _indices(columns: dict[str, list], where: str) -> list[int]:
    """The ``{i}`` of each row (``index`` or 0, 1, ...), once the columns are checked to agree in length."""
    lengths = {key: len(values) for key, values in columns.items()}
    if len(set(lengths.values())) != 1:
        listed = ", ".join(f"{key} has {n}" for key, n in lengths.items())
        raise MappingError(f"{where}: the ranges of one row must be as long as each other ({listed})")
    count = next(iter(lengths.values()))
    if not 1 <= count <= MAX_ROWS:
        raise MappingError(f"{where}: a range row stands for 1 to {MAX_ROWS} bindings, not {count}")
    indices = columns.pop("index", list(range(count)))
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise MappingError(f"{where}: index = {indices!r} must be whole numbers")
    return indices


def expand_row(raw: dict, where: str) -> list[dict]:
    """The bindings one table stands for: ``[raw]`` for a plain one (see the module docstring)."""
    columns: dict[str, list] = {}
    for key in PER_ROW:
        value = raw.get(key)
        if isinstance(value, list):
            columns[key] = value
        elif key in SPANS and isinstance(value, str):
            columns[key] = _span(value, where, key)
    if not columns:
        if _uses_index(raw) or "index" in raw:
            raise MappingError(f"{where}: {{i}} and index need a range row; give number = \"0-7\" "
                               "(or a list) for the bindings it stands for")
        return [raw]
    indices = _indices(columns, where)
    rows = []
    for j, i in enumerate(indices):
        row = {key: value for key, value in raw.items() if key != "index"}
        for key, values in columns.items():
            row[key] = values[j]
        for key in TEMPLATES:
            if isinstance(row.get(key), str):
                row[key] = row[key].replace("{i}", str(i))
        if row.get("value") == "{i}":
            row["value"] = i
        rows.append(row)
    return rows
