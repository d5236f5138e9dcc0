""""Did you mean ...?" for names a person typed: parameters, OSC addresses, commands, options."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The candidate most like ``word`` (difflib's ratio at least ``cutoff``), or None."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""`` when nothing is close."""
    match = closest(word, candidates, cutoff)
    return f"; did you mean {match!r}?" if match is not None else ""
