"""`netblend bench --features`: the demo frame with each toolkit feature off and on, side by side.

Each feature gets two shows of the built-in demo pair, playing the demo (slerp walk, B over the finer
layers) with a fader moving every frame (every frame rewrites weights); they differ only in that
feature. Frames are whole loop steps (snapshot, modulation, blend, latents, synthesis, conversion,
outputs) with the device synchronised, and every show runs one frame per turn, round after round, so
the machine's load hits all of them alike. The cost is the median "on" frame minus the median "off".

Features: latent directions (engine built without them vs 8 amounts moving), channel-wise blending
(fraction 1 vs 0.5), network bending (none vs a warp, invert, multiply and ablate on four layers),
four LFOs routed to blend and latent parameters (none vs four), the control page's preview (no page vs
a page asking for every frame, its JPEG encoded on a worker thread as the server does).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

FEATURES = ("directions", "channel blending", "network bending", "4 LFOs", "preview sink")
BENDING = {"bend.3.rotate": 15.0, "bend.3.scale": 0.2, "bend.5.translate_x": 0.1, "bend.7.invert": 0.4,
           "bend.9.multiply": 0.5, "bend.11.ablate": 0.3}
DIRECTIONS = {f"latent.dir.{k}": 0.5 * (-1) ** k for k in range(8)}


def four_lfos():
    """Four LFOs routed to blend and latent parameters (what a typical preset's [[mod]] tables do)."""
    from ..control.modulator_file import ModulatorConfig, Route

    return (
        ModulatorConfig(name="center", shape="sine", rate=0.2, routes=(Route("blend.curve.center", 0.3),)),
        ModulatorConfig(name="width", shape="triangle", sync=True, beats=8.0,
                        routes=(Route("blend.curve.width", 0.5),)),
        ModulatorConfig(name="psi", shape="smooth-random", rate=0.5, seed=3, routes=(Route("latent.psi", 0.2),)),
        ModulatorConfig(name="fine", shape="square", rate=1.0, width=0.25,
                        routes=(Route("blend.layer.10", 0.5), Route("blend.layer.11", 0.5))),
    )


class PageAsking:
    """A control page watching the preview: asks for a frame, encodes it (worker thread), asks again."""

    def __init__(self, preview):
        self.preview = preview
        self.captured = threading.Event()
        self.stop = threading.Event()
        self.encoded = 0
        preview.on_capture = self.captured.set
        self.thread = threading.Thread(target=self._run, name="bench-preview", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.preview.request()
            if self.captured.wait(0.2):
                self.captured.clear()
                if self.preview.jpeg():
                    self.encoded += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)


def _show(models, device, feature: str, on: bool):
    """A demo show that differs from its twin only in ``feature``; returns ``(show, closers)``."""
    from ..latents.live import LatentEngine
    from ..models.demo import DEMO_SHOW
    from ..show.build import build_show

    show = build_show(models, device)
    show.registry.update(DEMO_SHOW, source=("bench", "demo"))
    closers = []
    if feature == "directions" and not on:
        show.renderer.latents = LatentEngine(show.renderer.blended, device, directions=None)
    elif feature == "directions":
        show.registry.update(DIRECTIONS, source=("bench", "feature"))
    elif feature == "channel blending" and on:
        show.registry.set("blend.channel.fraction", 0.5, ("bench", "feature"))
    elif feature == "network bending" and on:
        show.registry.update(BENDING, source=("bench", "feature"))
    elif feature == "4 LFOs" and on:
        show.set_modulators(preset_mods=four_lfos())
    elif feature == "preview sink" and on:
        from ..surface.preview import PreviewSink

        preview = show.add_sink(PreviewSink())
        closers.append(PageAsking(preview).close)
    show.registry.jump()
    show.loop.sinks.open(show.renderer.width, show.renderer.height)
    return show, closers


def bench_features(device, rounds: int = 5, frames: int = 6, features=FEATURES) -> list[dict]:
    """Median ms per frame of every feature off and on, interleaved; a JSON-ready list."""
    import torch

    from ..models.demo import demo_pair
    from ..show.build import warm_up
    from ..show.frame import synchronize

    models = list(demo_pair(device))
    shows = {(f, on): _show(models, device, f, on) for f in features for on in (False, True)}
    times: dict[tuple[str, bool], list[float]] = {key: [] for key in shows}
    try:
        for i, (show, _) in enumerate(shows.values()):
            warm_up(show.renderer, show.registry, tune_threads=i == 0, frames=2)
        for n in range(rounds * frames + 1):
            for key, (show, _) in shows.items():
                show.registry.set("blend.layer.3", 0.5 + 0.4 * ((n % 20) / 20.0), ("bench", "fader"))
                t0 = time.perf_counter()
                show.loop.step()
                synchronize(device)
                if n:
                    times[key].append(time.perf_counter() - t0)
    finally:
        for show, closers in shows.values():
            for close in closers:
                close()
            show.close()
    rows = []
    for feature in features:
        off, on = (statistics.median(times[feature, state]) * 1000 for state in (False, True))
        rows.append({"feature": feature, "off_ms": off, "on_ms": on, "cost_ms": on - off,
                     "cost_share": (on - off) / off if off else 0.0})
    return [{"device": str(device), "threads": torch.get_num_threads(), "rounds": rounds, "frames": frames},
            *rows]


def format_features(rows: list[dict], markdown: bool = False) -> str:
    meta, rows = rows[0], rows[1:]
    head = ["feature", "off ms", "on ms", "cost ms", "cost %"]
    cells = [[r["feature"], f"{r['off_ms']:.2f}", f"{r['on_ms']:.2f}", f"{r['cost_ms']:+.2f}",
              f"{100 * r['cost_share']:+.1f}%"] for r in rows]
    title = (f"demo frame (256 px) on {meta['device']}, {meta['threads']} thread(s), {meta['rounds']} x "
             f"{meta['frames']} frames per side, interleaved; median ms per whole loop step")
    if markdown:
        return "\n".join([title, "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|",
                          *["| " + " | ".join(c) + " |" for c in cells]]) + "\n"
    widths = [max(len(row[i]) for row in [head, *cells]) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [head, *cells]]
    return "\n".join([title, lines[0], "-" * len(lines[0]), *lines[1:]])


def run_features(args, device) -> int:
    rows = bench_features(device, rounds=args.rounds or (1 if args.quick else 5),
                          frames=args.frames or (2 if args.quick else 6))
    print(format_features(rows))
    for path, text in ((args.json, lambda: json.dumps(rows, indent=2)),
                       (args.markdown, lambda: format_features(rows, markdown=True))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text(), encoding="utf-8")
            print(f"wrote {path}")
    return 0
