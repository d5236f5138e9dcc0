"""Screenshots of the real control page for the docs: the demo show rendering on a thread, the surface
serving it, headless Chromium at desktop and phone sizes.

    .venv/bin/python scripts/surface_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from surface_cost import FLAGS, DemoHost  # noqa: E402

from engine.core.clock import Clock  # noqa: E402
from engine.models.demo import DEMO_SHOW  # noqa: E402
from engine.show.build import build_renderer, load_models  # noqa: E402
from engine.show.catalog import build_registry  # noqa: E402
from engine.show.loop import RenderLoop, SinkSet  # noqa: E402
from engine.surface import SurfaceConfig, start_surface  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs", help="folder for the PNG files")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device("cpu")
    renderer = build_renderer(load_models([], device), device)
    registry = build_registry(renderer.blended)
    registry.update(DEMO_SHOW, source="demo")
    for i, v in enumerate((0.0, 0.0, 0.1, 0.2, 0.4, 0.7, 1.0, 1.3, 1.6, 1.2, 0.8, 0.5, -0.4, 0.0)):
        if f"blend.layer.{i}" in registry:
            registry.set(f"blend.layer.{i}", v)
    registry.jump()
    loop_ref: list[RenderLoop] = []
    host = DemoHost(renderer, registry, loop_ref)
    host.list_presets = lambda: ["dusk", "ukiyo crossover", "warm"]            # type: ignore[method-assign]
    host.model_choices = lambda: ["models/ffhq-256.pkl", "models/ukiyoe-256.pkl", "models/pokemon-256.pkl"]  # type: ignore[method-assign]
    host.models = lambda: ["models/ffhq-256.pkl", "models/ukiyoe-256.pkl"]    # type: ignore[method-assign]
    host.autosave_status = lambda: "every 30 s, last 21:04:05"                 # type: ignore[method-assign]
    surface = start_surface(host, SurfaceConfig(port=0, osc_host="127.0.0.1", osc_port=9000))
    loop = RenderLoop(registry, renderer, SinkSet([surface.preview]), clock=Clock(), fps=15)
    loop.hooks.after_frame.append(lambda frame, ft: surface.on_frame())
    loop_ref.append(loop)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    out = Path(args.out)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS, headless=True)
        sizes = {"desktop": dict(viewport={"width": 1280, "height": 900}),
                 "phone": dict(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                               is_mobile=True, has_touch=True)}
        for label, options in sizes.items():
            context = browser.new_context(**options)
            page = context.new_page()
            page.goto(surface.url)
            page.wait_for_selector("body[data-ready=true]")
            page.wait_for_function("document.getElementById('status').textContent === 'live'")
            page.click("#preview-toggle")
            page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
            page.evaluate("window.scrollTo(0, 0)")
            time.sleep(2.5)                                  # fps readings arrive
            path = out / f"control-page-{label}.png"
            page.screenshot(path=str(path), full_page=label == "desktop")
            print(f"wrote {path}")
            context.close()
        browser.close()
    loop.stop()
    thread.join(10)
    surface.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
