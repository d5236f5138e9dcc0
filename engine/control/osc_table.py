"""The OSC address table of a show: what ``netblend osc`` prints and a running engine answers to
``/engine/describe``. One row per address: parameters, list forms, actions, feedback-only values and
mapping-file aliases.

Ranges are the *effective* ones: the blend values (per-layer, curve amount, mapping, kind overrides,
extra models) are accepted from -10 to 11 but clamped to the safety range when the mask is composed
(-2..3 unless ``/blend/safety/min`` and ``/max`` say otherwise), so the table shows the safety range
and names the wider limit in the description and the JSON.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..core.params import ParamRegistry, ParamSpec, address_of
from .mapping import OscAlias
from .osc_addresses import ACTION_ADDRESSES, ACTION_TYPES, FPS_ADDRESS

FORMATS = ("table", "tsv", "csv", "markdown", "json")
COLUMNS = ("address", "name", "type", "range", "default", "description")
SAFETY = ("blend.safety.min", "blend.safety.max")
# Values that end up in a layer's t, which compose() clamps to the safety range.
_SAFETY_CLAMPED = re.compile(r"^blend\.(layer\.\d+|model\.\d+|mapping|curve\.amount|kind\.[a-z]+)$")


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class AddressRow:
    address: str
    name: str                       # parameter name, "(action)", "(feedback)", or an alias's target
    type: str                       # f, i, bool, s|i, trigger, "f xN" (list form), "s [f]", alias
    range: str                      # the effective range as text
    default: str
    description: str
    info: dict[str, Any] = field(default_factory=dict, compare=False)   # structured fields for JSON

    def cells(self) -> tuple[str, ...]:
        return (self.address, self.name, self.type, self.range, self.default, self.description)

    def as_json(self) -> dict[str, Any]:
        return {**dict(zip(COLUMNS, self.cells())), **self.info}


def safety_clamped(name: str) -> bool:
    """Whether ``name``'s value is clamped to the safety range when the blend mask is composed."""
    return bool(_SAFETY_CLAMPED.match(name))


def effective_range(registry: ParamRegistry, spec: ParamSpec) -> tuple[float, float]:
    """The range a value of ``spec`` can have an effect in (the safety range for blend values)."""
    if safety_clamped(spec.name) and all(s in registry for s in SAFETY):
        lo, hi = sorted((registry.get(SAFETY[0]), registry.get(SAFETY[1])))
        return max(spec.lo, lo), min(spec.hi, hi)
    return spec.lo, spec.hi


def _param_row(registry: ParamRegistry, spec: ParamSpec) -> AddressRow:
    info: dict[str, Any] = {"kind": spec.kind}
    doc = spec.doc
    if spec.kind == "choice":
        kind, rng, default = "s|i", "|".join(spec.choices), spec.choices[int(spec.default)]
        info.update(choices=list(spec.choices), default=spec.choices[int(spec.default)])
    elif spec.kind == "trigger":
        kind, rng, default = "trigger", "-", "-"
    elif spec.kind == "bool":
        kind, rng, default = "bool", "0|1", _fmt(spec.default)
        info.update(min=0, max=1, default=spec.default)
    else:
        kind = "i" if spec.kind == "int" else "f"
        lo, hi = effective_range(registry, spec)
        rng, default = f"{_fmt(lo)}..{_fmt(hi)}", _fmt(spec.default)
        info.update(min=lo, max=hi, default=spec.default)
        if (lo, hi) != (spec.lo, spec.hi):
            info["accepts"] = [spec.lo, spec.hi]
            doc += (f" (clamped to the safety range {rng}; /blend/safety/min and /max widen it up to "
                    f"{_fmt(spec.lo)}..{_fmt(spec.hi)})")
    return AddressRow(spec.address, spec.name, kind, rng, default, doc, info)


def address_rows(registry: ParamRegistry, aliases: Iterable[OscAlias] = ()) -> list[AddressRow]:
    """One row per address of a show with ``registry`` (and the OSC ``aliases`` of mapping files)."""
    rows: list[AddressRow] = []
    numbered: dict[str, list[ParamSpec]] = {}
    for spec in registry:
        if spec.address in ACTION_ADDRESSES:
            continue  # listed once, below, as the action it fires
        prefix, _, last = spec.name.rpartition(".")
        if last.isdigit():
            numbered.setdefault(prefix, []).append(spec)
        rows.append(_param_row(registry, spec))
    for prefix, specs in numbered.items():
        first = _param_row(registry, specs[0])
        rows.append(AddressRow(address_of(prefix), f"{specs[0].name}..{specs[-1].name.rpartition('.')[2]}",
                               f"f x{len(specs)}", first.range, first.default,
                               "list form: one value per numbered parameter, in order",
                               {**first.info, "kind": "list", "count": len(specs)}))
    for address, what in ACTION_ADDRESSES.items():
        rows.append(AddressRow(address, "(action)", ACTION_TYPES.get(address, "trigger"), "-", "-", what,
                               {"kind": "action"}))
    rows.append(AddressRow(FPS_ADDRESS, "(feedback)", "f", "-", "-",
                           "sent about once a second to --osc-feedback, once frames render", {"kind": "feedback"}))
    for alias in aliases:
        scaled = alias.range is not None
        rng = f"0..1 -> {_fmt(alias.range[0])}..{_fmt(alias.range[1])}" if alias.range else "raw"
        info: dict[str, Any] = {"kind": "alias", "target": alias.param}
        if scaled:
            info["scale"] = list(alias.range)  # type: ignore[arg-type]
        rows.append(AddressRow(alias.address, alias.param, "alias", rng, "-", "from a mapping file", info))
    return rows


def rows_json(rows: Iterable[AddressRow]) -> str:
    """The rows as one JSON document (a list of objects), what ``--format json`` prints."""
    return json.dumps([row.as_json() for row in rows], indent=1)


def print_rows(rows: list[AddressRow], fmt: str, out: TextIO | None = None) -> None:
    """Write ``rows`` in one of :data:`FORMATS`."""
    out = out or sys.stdout
    cells = [row.cells() for row in rows]
    if fmt == "json":
        out.write(rows_json(rows) + "\n")
    elif fmt in ("tsv", "csv"):
        writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(cells)
    elif fmt == "markdown":
        out.write("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n")
        for row in cells:
            out.write("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |\n")
    else:
        widths = [max(len(r[i]) for r in [COLUMNS, *cells]) for i in range(len(COLUMNS) - 1)]
        for row in [COLUMNS, *cells]:
            out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] + "\n")
