"""The layer table: the blendable layers of a generator in synthesis order.

Index ``i`` is the layer styled by ``w[i]`` (the same index as W+ rows and style mixing). Each entry
knows its resolution, output channels and the state_dict keys it owns with their *kind*:

=========  ==========================================================================
kind       parameters
=========  ==========================================================================
conv       convolution weights (StyleGAN2 ``conv0/conv1.weight``, resnet ``skip.weight``)
bias       convolution biases
affine     style affines (``affine.weight``, ``affine.bias``)
torgb      every ToRGB parameter (weight, bias, its affine)
noise      ``noise_strength`` and the ``noise_const`` buffers
const      StyleGAN2 ``b4.const``; StyleGAN3 input weight/affine/freqs/phases
stat       StyleGAN3 ``magnitude_ema``
mapping    every key under ``mapping.`` (including ``mapping.w_avg``)
=========  ==========================================================================

Keys that are never blended (resampling filters, StyleGAN3 up/down filters, ``input.transform``)
are listed in ``LayerTable.fixed``. Every float state_dict key appears exactly once across the
entries, ``mapping`` and ``fixed``; the constructor checks that no key is listed twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

KINDS = ("conv", "bias", "affine", "torgb", "noise", "const", "stat", "mapping")
FIXED_KIND = "fixed"


@dataclass(frozen=True)
class LayerEntry:
    """One blendable layer: what ``w[index]`` styles."""

    index: int                              # = the w row that styles it
    name: str                               # display label, e.g. "b8.conv0 + b4.torgb"; SG3 "L3_36_64"
    resolution: int                         # output resolution of the layer (SG3: its size)
    channels: int                           # output channels
    params: tuple[tuple[str, str], ...]     # (state_dict key, kind)
    rate: int = 0                           # SG3: the sampling rate (size less the margin); 0 = resolution

    @property
    def nominal(self) -> int:
        """The resolution a user names this layer by (``crossover@32``): StyleGAN3's 52 px layer is 32."""
        return self.rate or self.resolution

    @property
    def keys(self) -> tuple[str, ...]:
        """The state_dict keys this layer owns, in table order."""
        return tuple(key for key, _ in self.params)

    def keys_of_kind(self, kind: str) -> tuple[str, ...]:
        """The keys of this layer whose kind is ``kind``."""
        return tuple(key for key, k in self.params if k == kind)


class LayerTable(Sequence[LayerEntry]):
    """The layers of one generator (a read-only sequence of ``LayerEntry``, index = w row)."""

    def __init__(self,
                 entries: Iterable[LayerEntry],
                 mapping: Iterable[tuple[str, str]],
                 fixed: Iterable[str]) -> None:
        self._entries = tuple(entries)
        self.mapping: tuple[tuple[str, str], ...] = tuple(mapping)
        self.fixed: tuple[str, ...] = tuple(fixed)
        for position, entry in enumerate(self._entries):
            if entry.index != position:
                raise ValueError(f"layer {entry.name!r} has index {entry.index}, expected {position}")
        self._kind: dict[str, str] = {}
        self._layer: dict[str, int | None] = {}
        for entry in self._entries:
            for key, kind in entry.params:
                self._register(key, kind, entry.index)
        for key, kind in self.mapping:
            self._register(key, kind, None)
        for key in self.fixed:
            self._register(key, FIXED_KIND, None)

    def _register(self, key: str, kind: str, index: int | None) -> None:
        if kind not in KINDS and kind != FIXED_KIND:
            raise ValueError(f"unknown layer kind {kind!r} for {key!r}; known kinds: {', '.join(KINDS)}")
        if key in self._kind:
            raise ValueError(f"state_dict key {key!r} is listed twice in the layer table")
        self._kind[key] = kind
        self._layer[key] = index

    @overload
    def __getitem__(self, index: int) -> LayerEntry: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[LayerEntry]: ...

    def __getitem__(self, index):
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LayerEntry]:
        return iter(self._entries)

    def __repr__(self) -> str:
        return (f"LayerTable({len(self)} layers, {len(self.mapping)} mapping keys, "
                f"{len(self.fixed)} fixed keys)")

    def keys(self) -> tuple[str, ...]:
        """Every key the table knows: layer keys in index order, then mapping, then fixed."""
        return tuple(self._kind)

    def resolutions(self) -> list[int]:
        """The distinct layer resolutions, ascending."""
        return sorted({entry.resolution for entry in self._entries})

    def by_resolution(self, resolution: int) -> list[LayerEntry]:
        """The layers whose output resolution is ``resolution`` (empty list when none)."""
        return [entry for entry in self._entries if entry.resolution == resolution]

    def by_kind(self, kind: str) -> list[str]:
        """Every key of kind ``kind`` (``"fixed"`` lists the never-blended keys)."""
        return [key for key, k in self._kind.items() if k == kind]

    def kind_of(self, key: str) -> str:
        """The kind of a state_dict key (one of ``KINDS`` or ``"fixed"``); KeyError for unknown keys."""
        return self._kind[key]

    def layer_of(self, key: str) -> int | None:
        """The layer index owning ``key``; None for mapping and fixed keys; KeyError for unknown keys."""
        return self._layer[key]

    def describe(self) -> list[tuple[int, str, int, int, str]]:
        """Rows ``(index, name, resolution, channels, kinds)`` for display (``netblend inspect``)."""
        rows = []
        for entry in self._entries:
            kinds = ",".join(dict.fromkeys(kind for _, kind in entry.params))
            rows.append((entry.index, entry.name, entry.resolution, entry.channels, kinds))
        return rows
