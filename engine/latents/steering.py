"""Live latent directions: ``latent.dir.<k>`` moves rows of W+ along a model's directions.

Per frame the latent engine adds ``sum_k amount_k * spread_k * d_k`` to W+ rows
``[latent.dir.start, latent.dir.end)`` after truncation (a move of the same size whatever psi is),
with the amounts in the frame's scalar tensor and the scaled directions in one device tensor
``basis [count, w_dim]`` (:class:`LiveDirections`): one small matmul and one masked add on the device,
no host sync. ``spread`` is the standard deviation of the model's W along the direction
(:mod:`engine.latents.directions`), so amount 1 is one typical deviation of the model's own latents.

``latent.dir.source`` picks the directions of model A, of model B (both computed at load, or read from
the cache) or of the current blend. The blend's directions follow the blend: when its weights have
changed, a snapshot of its style affines and W samples is taken on the device (no host wait) and
decomposed on a worker thread at most every :data:`CAPTURE_INTERVAL` seconds of show time; the frame
keeps the previous directions until the new ones are ready (a fraction of a second).
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
from collections.abc import Mapping, Sequence

import torch

from ..core.uploads import StagedUpload
from ..errors import LatentFileError
from .directions import (
    METHODS,
    DirectionConfig,
    DirectionSet,
    affine_keys,
    directions_for,
    directions_from,
    sample_inputs,
)
from .seeds import weights_version

log = logging.getLogger("netblend")

SOURCES = ("a", "b", "blend")
LIVE_COUNT = 8                  # latent.dir.0 .. latent.dir.7
CAPTURE_INTERVAL = 0.5          # seconds of show time between two decompositions of the blend


def _decompose(affines: Sequence[torch.Tensor], samples: torch.Tensor, config: DirectionConfig,
               layers: Sequence[int]) -> DirectionSet:
    """Worker thread: read the snapshot back (this thread waits, not the render loop) and decompose it."""
    return directions_from([a.double().cpu().numpy() for a in affines], samples.double().cpu().numpy(),
                           config, layers)


class LiveDirections:
    """The scaled direction basis a frame reads, for source ``a``, ``b`` or ``blend``."""

    def __init__(self, G, device: torch.device, models: Sequence | None = None,
                 config: DirectionConfig | Mapping[str, DirectionSet] = DirectionConfig(),
                 count: int = LIVE_COUNT) -> None:
        """``config``: how to compute the directions of ``models`` A and B (cached), or ready sets
        ``{"a": DirectionSet, "b": DirectionSet}`` (e.g. files written by ``netblend directions``)."""
        self.G = G
        self.device = device
        self.count = count
        self.basis = StagedUpload((count, G.w_dim), device)                     # [count, w_dim]
        if isinstance(config, Mapping):
            self.sets: dict[str, DirectionSet] = {"a": config["a"], "b": config.get("b", config["a"])}
            for name, given in self.sets.items():
                if given.directions.shape[1] != G.w_dim:
                    raise LatentFileError(f"directions for model {name.upper()} have w_dim="
                                          f"{given.directions.shape[1]}; this model needs w_dim={G.w_dim}")
            found = self.sets["a"]
            config = DirectionConfig(method=found.method if found.method in METHODS else "sefa",
                                     layers=found.layers or None, normalize=found.normalize)
        else:
            models = list(models) if models else [G]
            a = models[0]
            b = models[1] if len(models) > 1 else a
            self.sets = {"a": directions_for(a, config)}
            self.sets["b"] = self.sets["a"] if b is a else directions_for(b, config)
        self.config = config
        self.source: str | None = None
        self.captures = 0                                                       # blend decompositions started
        self._keys = affine_keys(G, config.layers, config.torgb) if config.method == "sefa" else []
        self._layers = tuple(sorted({G.layers.layer_of(k) for k in self._keys}))
        named = dict(G.synthesis.named_parameters(prefix="synthesis"))
        named.update(G.synthesis.named_buffers(prefix="synthesis"))
        self._affines = [named[key] for key in self._keys]
        self._mapping = list(G.mapping.parameters()) + list(G.mapping.buffers())
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: concurrent.futures.Future | None = None
        self._captured: tuple[int, float] | None = None                         # (weights version, time)
        self._inputs: tuple[StagedUpload, StagedUpload | None] | None = None

    def update(self, source: str, time: float) -> None:
        """Host side, once per frame: make :attr:`basis` hold ``source``'s directions (non-blocking)."""
        if source != self.source:
            self.source = source
            if source != "blend":
                self.basis.write(self.sets[source].scaled(self.count))
            else:
                self._captured = None
        if source == "blend":
            self._collect()
            version = weights_version(self._affines + self._mapping)
            last = self._captured
            if self._pending is None and (last is None or (version != last[0] and time - last[1] >= CAPTURE_INTERVAL)):
                self._capture(version, time)

    def wait(self) -> None:
        """Block until a pending blend decomposition is applied (tests, warm-up)."""
        if self._pending is not None:
            self._pending.result()
            self._collect()

    def close(self) -> None:
        """Stop the worker thread (a pending decomposition is dropped)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            self._pending = None

    def _collect(self) -> None:
        pending = self._pending
        if pending is None or not pending.done():
            return
        self._pending = None
        try:
            found = pending.result()
        except Exception as e:  # a failed decomposition keeps the current directions playing
            log.warning("directions of the blend: %s: %s; keeping the previous ones", type(e).__name__, e)
            return
        self.sets["blend"] = found
        if self.source == "blend":
            self.basis.write(found.scaled(self.count))

    @torch.no_grad()
    def _capture(self, version: int, time: float) -> None:
        """Snapshot the blend on the device (clones; no host wait) and decompose it on the worker."""
        if self._inputs is None:
            z, c = sample_inputs(self.G, self.config.samples, self.config.seed)
            z_up = StagedUpload(z.shape, self.device)
            z_up.write(z)
            c_up = None
            if c is not None:
                c_up = StagedUpload(c.shape, self.device)
                c_up.write(c)
            self._inputs = (z_up, c_up)
        z_up, c_up = self._inputs
        samples = self.G.mapping(z_up.tensor, None if c_up is None else c_up.tensor,
                                 truncation_psi=1.0)[:, 0].clone()                  # [N, w_dim]
        affines = [t.detach().reshape(t.shape[0], -1).clone() for t in self._affines]
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="netblend-directions")
        self._pending = self._executor.submit(_decompose, affines, samples, self.config, self._layers)
        self._captured = (version, time if math.isfinite(time) else 0.0)
        self.captures += 1

