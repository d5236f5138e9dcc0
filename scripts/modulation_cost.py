"""Frame cost of modulation on the demo, side by side in one run: no modulators, and four LFOs routed
to blend and latent parameters (plus, for scale, the cost of ``Modulation.apply`` alone).

Builds the renderer the way ``engine.show.build`` does for ``netblend run`` (demo pair, fast ops,
warm-up), then renders frames in alternating blocks so both sides see the same machine load.

    .venv/bin/python scripts/modulation_cost.py [--frames 200] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.control.audio import params as audio_params  # noqa: E402
from engine.control.modulator_file import ModulatorConfig, Route  # noqa: E402
from engine.core.clock import FakeClock  # noqa: E402
from engine.models.demo import DEMO_SHOW  # noqa: E402
from engine.show.build import build_renderer, load_models, resolve_device, warm_up  # noqa: E402
from engine.show.catalog import build_registry  # noqa: E402
from engine.show.modulators import Modulation  # noqa: E402

FOUR_LFOS = (
    ModulatorConfig(name="center", shape="sine", rate=0.2, routes=(Route("blend.curve.center", 0.3),)),
    ModulatorConfig(name="width", shape="triangle", sync=True, beats=8.0, routes=(Route("blend.curve.width", 0.5),)),
    ModulatorConfig(name="psi", shape="smooth-random", rate=0.5, seed=3, routes=(Route("latent.psi", 0.2),)),
    ModulatorConfig(name="fine", shape="square", rate=1.0, width=0.25,
                    routes=(Route("blend.layer.10", 0.5), Route("blend.layer.11", 0.5))),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames per side (default: %(default)s)")
    parser.add_argument("--block", type=int, default=10, help="frames per block before switching sides")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = resolve_device(args.device)
    renderer = build_renderer(load_models([], device), device)
    registry = build_registry(renderer.blended)
    registry.add_all(audio_params())
    off = Modulation((), registry)
    on = Modulation(FOUR_LFOS, registry)
    registry.add_all(on.params())
    registry.update(DEMO_SHOW)
    registry.jump()
    warm_up(renderer, registry)
    clock = FakeClock(fps=30)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {"off": [], "on": []}
    apply_cost: list[float] = []
    done = 0
    while done < args.frames:
        for side, modulation in (("off", off), ("on", on)):
            for _ in range(args.block):
                ft = clock.tick()
                t0 = time.perf_counter()
                snap = registry.snapshot(ft.dt)
                t1 = time.perf_counter()
                values = modulation.apply(snap.values, ft)
                t2 = time.perf_counter()
                renderer.render(values, ft)
                sync()
                times[side].append(time.perf_counter() - t0)
                if side == "on":
                    apply_cost.append(t2 - t1)
        done += args.block
    med = {side: statistics.median(v) * 1e3 for side, v in times.items()}
    print(f"demo {renderer.width}x{renderer.height} on {device}, {args.frames} frames per side, "
          f"torch threads {torch.get_num_threads()}")
    print(f"  no modulators : {med['off']:.2f} ms per frame (median)")
    print(f"  4 LFOs routed : {med['on']:.2f} ms per frame (median), {100 * (med['on'] / med['off'] - 1):+.1f} %")
    print(f"  Modulation.apply alone: {statistics.median(apply_cost) * 1e6:.1f} us per frame (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
