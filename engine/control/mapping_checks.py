"""Checks across the bindings of one mapping file: no two bindings fight over a control, and every
bank can be reached."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MappingError

if TYPE_CHECKING:
    from .mapping import DeviceInfo, MidiBinding, OscAlias


def check_duplicates(midi: tuple[MidiBinding, ...], osc: tuple[OscAlias, ...], path: Path) -> None:
    """Two bindings on one control (same channel or either on any channel) would fight: refuse."""
    seen: dict[tuple[str, int], list[tuple[int | None, MidiBinding]]] = {}
    for b in midi:
        if b.control == "nrpn":
            keys = [("nrpn", int(b.number or 0))] + [("cc", n) for n in b.cc_numbers()]
        elif b.control in ("cc", "cc14"):
            keys = [("cc", n) for n in b.cc_numbers()]
        else:
            keys = [(b.control, int(b.number or 0))]
        for key in keys:
            for chan, other in seen.get(key, []):
                shared_nrpn = key[0] == "cc" and b.control == other.control == "nrpn"
                other_bank = b.bank is not None and other.bank is not None and b.bank != other.bank
                if not shared_nrpn and not other_bank and (chan is None or b.channel is None or chan == b.channel):
                    raise MappingError(
                        f"{path.name}: {b.describe()} uses the same control as {other.describe()}; "
                        "remove one binding or give them different channels or banks")
            seen.setdefault(key, []).append((b.channel, b))
    addresses: dict[str, int] = {}
    for i, a in enumerate(osc, 1):
        if a.address in addresses:
            raise MappingError(f"{path.name}: [[osc]] #{i} repeats address {a.address} of [[osc]] "
                               f"#{addresses[a.address]}; remove one")
        addresses[a.address] = i


def check_banks(midi: tuple[MidiBinding, ...], device: DeviceInfo, path: Path) -> None:
    """Every bank a button selects has bindings, and every bank but the first can be selected."""
    banks = list(dict.fromkeys(b.bank for b in midi if b.bank is not None))
    selected = {b.select for b in midi if b.select is not None}
    for b in midi:
        if b.select is not None and b.select not in banks:
            raise MappingError(f"{path.name}: {b.describe()} selects bank {b.select!r}, which no binding uses; "
                               f"banks here: {', '.join(map(repr, banks)) or 'none'}")
    if device.bank is not None and device.bank not in banks:
        raise MappingError(f"{path.name}: [device] bank = {device.bank!r} is not a bank of this file; "
                           f"banks here: {', '.join(map(repr, banks)) or 'none'}")
    start = device.bank if device.bank is not None else (banks[0] if banks else None)
    for bank in banks:
        if bank != start and bank not in selected:
            raise MappingError(f"{path.name}: bank {bank!r} can never be selected; add a button with "
                               f"action = \"bank\" (or \"shift\") and bank = {bank!r}")
