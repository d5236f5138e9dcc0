"""What the control page costs the render loop: the demo's frame time with the page closed, side by side
with a real Chromium page open and a fader moving continuously (60 moves a second through the page's
own keyboard handler, so each move is a binary OSC message over the WebSocket), and with the preview on.

Blocks of frames alternate between the conditions (the machine is shared and noisy), and the medians
are compared. The demo is built the way ``engine/core/show.py`` builds a show; frames are timed around
``RenderLoop.step`` (clock, snapshot, render, sinks, frame hook).

    .venv/bin/python scripts/surface_cost.py [--blocks 8] [--frames 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.control.actions import Actions  # noqa: E402
from engine.core.clock import Clock  # noqa: E402
from engine.core.params import ChangeFanout  # noqa: E402
from engine.models.demo import DEMO_SHOW  # noqa: E402
from engine.show.build import build_renderer, load_models, warm_up  # noqa: E402
from engine.show.catalog import build_registry  # noqa: E402
from engine.show.loop import RenderLoop, SinkSet  # noqa: E402
from engine.surface import SurfaceConfig, start_surface  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MOVE_FADER = """(name) => {
  const el = document.querySelector(`[aria-label="${name}"]`);
  let up = true, n = 0;
  window.__mover = setInterval(() => {
    if (++n % 80 === 0) up = !up;
    el.dispatchEvent(new KeyboardEvent("keydown", { key: up ? "ArrowUp" : "ArrowDown", bubbles: true }));
  }, 1000 / 60);
}"""


class DemoHost:
    """The SurfaceHost protocol over the demo show (what the Show provides in `netblend run`)."""

    def __init__(self, renderer, registry, loop_ref):
        self.renderer, self.registry = renderer, registry
        self.actions = Actions()
        self.fanout = ChangeFanout(registry)
        self.loop_ref = loop_ref

    def subscribe_changes(self):
        return self.fanout.subscribe()

    def list_presets(self):
        return []

    def models(self):
        return ["demo A", "demo B"]

    def model_choices(self):
        return []

    def swap_models(self, paths):
        raise RuntimeError("no swaps in this measurement")

    def layer_resolutions(self):
        return [e.resolution for e in self.renderer.blended.layers]

    def fps(self):
        return self.loop_ref[0].stats.recent_fps if self.loop_ref else 0.0

    def frame_ms(self):
        return self.loop_ref[0].stats.percentile_ms(50) if self.loop_ref else 0.0

    def autosave_status(self):
        return "off"


PROTOCOL_CLIENT = """
import asyncio, json, math, struct, sys, aiohttp
async def main(port):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/") as ws:
            await ws.send_str(json.dumps({"COMMAND": "LISTEN", "DATA": "/"}))
            async def read():
                async for _ in ws:
                    pass
            reader = asyncio.ensure_future(read())
            address = b"/blend/layer/3\\0\\0,f\\0\\0"
            n = 0
            while True:
                n += 1
                await ws.send_bytes(address + struct.pack(">f", math.sin(n / 20.0)))
                await asyncio.sleep(1 / 60)
asyncio.run(main(int(sys.argv[1])))
"""


def time_frames(loop: RenderLoop, frames: int, cpu: dict | None = None) -> list[float]:
    """Wall time of each frame; adds the CPU seconds of the process's other threads to ``cpu``."""
    out = []
    process0, thread0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    for _ in range(frames):
        t0 = time.perf_counter()
        loop.step()
        out.append(time.perf_counter() - t0)
    if cpu is not None:
        render_cpu = time.thread_time() - thread0
        cpu["other"] += (time.process_time() - process0) - render_cpu
        cpu["render"] += render_cpu
        cpu["frames"] += frames
        cpu["wall"] += time.perf_counter() - wall0
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=8, help="blocks per condition (alternating)")
    parser.add_argument("--frames", type=int, default=30, help="frames per block")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the browser needs a core)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    renderer = build_renderer(load_models([], device), device)
    registry = build_registry(renderer.blended)
    registry.update(DEMO_SHOW, source="demo")
    registry.jump()
    warm_up(renderer, registry, tune_threads=False)
    loop_ref: list[RenderLoop] = []
    host = DemoHost(renderer, registry, loop_ref)
    surface = start_surface(host, SurfaceConfig(port=0))
    loop = RenderLoop(registry, renderer, SinkSet([surface.preview]), clock=Clock())
    loop.hooks.after_frame.append(lambda frame, ft: surface.on_frame())
    loop_ref.append(loop)
    loop.sinks.open(renderer.width, renderer.height)
    time_frames(loop, 10)

    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {"page closed": [], "protocol client (no browser), fader moving": [],
                                     "page open, fader moving": [], "page open, fader moving, preview on": []}
    cpu = {c: {"other": 0.0, "wall": 0.0, "render": 0.0, "frames": 0} for c in times}
    streamed_before = surface.stats.streamed
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS,
                                    headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        for block in range(args.blocks):
            for condition in times:
                client = None
                if condition == "page closed":
                    page.goto("about:blank")
                elif condition.startswith("protocol"):
                    page.goto("about:blank")
                    client = subprocess.Popen([sys.executable, "-c", PROTOCOL_CLIENT, str(surface.port)])
                    time.sleep(1.0)
                else:
                    page.goto(surface.url)
                    page.wait_for_selector("body[data-ready=true]")
                    page.wait_for_function("document.getElementById('status').textContent === 'live'")
                    page.evaluate(MOVE_FADER, "blend.layer.3")
                    if "preview" in condition:
                        page.click("#preview-toggle")
                time_frames(loop, 5)                     # settle: the page has loaded and is streaming
                times[condition] += time_frames(loop, args.frames, cpu[condition])
                if client is not None:
                    client.terminate()
                    client.wait()
            print(f"block {block + 1}/{args.blocks} done", file=sys.stderr)
        browser.close()
    surface.stop()
    loop.sinks.close()
    base = statistics.median(times["page closed"])
    print(f"demo {renderer.width}x{renderer.height} on CPU, {args.threads} thread(s), "
          f"{args.blocks} alternating blocks of {args.frames} frames per condition")
    for condition, samples in times.items():
        med = statistics.median(samples)
        p95 = sorted(samples)[int(0.95 * len(samples))]
        c = cpu[condition]
        share = c["other"] / max(c["wall"], 1e-9)
        render_cpu = c["render"] / max(c["frames"], 1)
        print(f"  {condition:44s} wall median {med * 1e3:7.2f} ms, p95 {p95 * 1e3:7.2f} ms "
              f"({(med / base - 1) * 100:+.1f} %); render-thread CPU {render_cpu * 1e3:6.2f} ms/frame; "
              f"surface threads {share * 1e3:5.1f} ms CPU per s")
    print(f"  OSC messages streamed to the page: {surface.stats.streamed - streamed_before}; "
          f"received from it: {surface.stats.osc_packets}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
