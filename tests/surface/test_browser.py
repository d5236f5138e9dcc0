"""The control page in a real Chromium against a real surface, render loop, OSC server and OSC feedback.

Values are checked where a user would see them: the engine's OSC feedback (what TouchDesigner gets)
after a keyboard move, a drag or a multi-touch gesture on the page, and the page's faders after OSC
arrives over UDP. Two pages stay in step; the preview shows a picture."""

from __future__ import annotations

import io
import socket
import time

import numpy as np
import pytest
from PIL import Image
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from engine.control.feedback import FeedbackSender
from engine.control.osc import OscAdapter
from engine.control.osc_server import OscServer, OscServerConfig
from engine.core.params import ParamSpec

pytestmark = pytest.mark.browser


class Feedback:
    """The engine's OSC feedback, received on a UDP socket as TouchDesigner would."""

    def __init__(self, host):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.sender = FeedbackSender(host.registry, self.socket.getsockname(), frame_rate=60,
                                     changes=host.fanout.subscribe()).start()
        self.last: dict[str, float] = {}

    def wait(self, address: str, predicate, seconds: float = 3.0) -> float:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if address in self.last and predicate(self.last[address]):
                return self.last[address]
            try:
                data = self.socket.recv(4096)
            except TimeoutError:
                continue
            message = OscMessage(data)
            self.last[message.address] = message.params[0]
        raise AssertionError(f"no feedback on {address} matching; last {self.last.get(address)}")

    def close(self):
        self.sender.stop()
        self.socket.close()


@pytest.fixture
def show(surface, host):
    """The surface with a running show, OSC in over UDP and OSC feedback out."""
    host.play(surface, fps=30)
    osc = OscServer(OscAdapter(host.registry, host.actions), OscServerConfig(port=0)).start()
    feedback = Feedback(host)
    yield surface, host, osc, feedback
    feedback.close()
    osc.stop()


def open_page(context, surface):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(surface.url)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function("document.getElementById('status').textContent === 'live'")
    page.errors = errors
    return page


def fader(page, name):
    return page.locator(f'[aria-label="{name}"]')


def wait_value(page, name, expected, seconds=3.0):
    page.wait_for_function(
        "([name, v]) => Math.abs(Number(document.querySelector(`[aria-label='${name}']`)"
        ".getAttribute('aria-valuenow')) - v) < 1e-3", arg=[name, expected], timeout=seconds * 1000)


def test_every_parameter_has_a_real_control_named_after_it(browser_context, surface, host):
    host.registry.add(ParamSpec("fx.glow", 0.2, 0.0, 2.0, doc="added after the page was written"))
    page = open_page(browser_context, surface)
    for spec in host.registry:
        control = fader(page, spec.name).first
        assert control.count() == 1, f"no control named {spec.name}"
        tag, role = control.evaluate("e => [e.tagName, e.getAttribute('role')]")
        assert tag in ("BUTTON", "SELECT", "INPUT") or role == "slider", (spec.name, tag, role)
    assert fader(page, "fx.glow").get_attribute("aria-valuenow") == "0.2"
    assert page.errors == []


def test_the_keyboard_moves_a_fader_and_the_engine_follows(browser_context, show):
    surface, host, _, feedback = show
    page = open_page(browser_context, surface)
    layer = fader(page, "blend.layer.3")
    layer.focus()
    page.keyboard.press("End")                                         # the top of the safety range
    assert feedback.wait("/blend/layer/3", lambda v: v == pytest.approx(3.0)) == pytest.approx(3.0)
    page.keyboard.press("Home")
    feedback.wait("/blend/layer/3", lambda v: v == pytest.approx(-2.0))
    for _ in range(4):
        page.keyboard.press("ArrowUp")                                 # 1 % of the range per step
    feedback.wait("/blend/layer/3", lambda v: v == pytest.approx(-1.8, abs=1e-4))
    assert host.registry.get("blend.layer.3") == pytest.approx(-1.8, abs=1e-4)
    assert float(layer.get_attribute("aria-valuenow")) == pytest.approx(-1.8, abs=1e-4)


def test_a_drag_moves_a_fader_and_the_engine_follows(browser_context, show):
    surface, host, _, feedback = show
    page = open_page(browser_context, surface)
    box = fader(page, "blend.curve.center").locator(".track").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.1 * box["width"], y)
    page.mouse.down()
    for part in (0.3, 0.5, 0.75):
        page.mouse.move(box["x"] + part * box["width"], y, steps=4)
    page.mouse.up()
    value = feedback.wait("/blend/curve/center", lambda v: abs(v - 0.75) < 0.02)
    assert host.registry.get("blend.curve.center") == pytest.approx(value, abs=1e-6)


def test_osc_from_elsewhere_moves_the_page_within_frames(browser_context, show):
    surface, host, osc, _ = show
    page = open_page(browser_context, surface)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(build_msg("/blend/layer/5", 1.5).dgram, osc.address)
    sender.sendto(build_msg("/latent/walk/mode", "circle").dgram, osc.address)
    sender.close()
    wait_value(page, "blend.layer.5", 1.5, seconds=1.0)
    page.wait_for_function("document.querySelector(\"[aria-label='latent.walk.mode']\").value === 'circle'",
                           timeout=1000)
    assert fader(page, "blend.layer.5").locator("..").locator(".fader.outside").count() == 1   # overblend marked


def test_two_pages_stay_in_step(browser_context, show):
    surface, host, _, _ = show
    first, second = open_page(browser_context, surface), open_page(browser_context, surface)
    fader(first, "blend.curve.width").focus()
    first.keyboard.press("End")
    wait_value(second, "blend.curve.width", 64.0)
    second.locator('[aria-label="engine.pause"]').click()
    first.wait_for_function("document.querySelector(\"[aria-label='engine.pause']\").getAttribute('aria-pressed')"
                            " === 'true'", timeout=3000)
    assert host.registry.get("engine.pause") == 1.0


def test_two_fingers_move_two_faders_at_once(chromium, show):
    surface, host, _, feedback = show
    context = chromium.new_context(viewport={"width": 412, "height": 915}, has_touch=True, is_mobile=True)
    try:
        page = open_page(context, surface)
        boxes = []
        for name in ("blend.layer.1", "blend.layer.4"):
            fader(page, name).scroll_into_view_if_needed()
            boxes.append(fader(page, name).locator(".track").bounding_box())
        cdp = context.new_cdp_session(page)

        def points(part):
            return [{"x": b["x"] + b["width"] / 2, "y": b["y"] + (1 - part) * b["height"], "id": i}
                    for i, b in enumerate(boxes)]

        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0.5)})
        for part in (0.6, 0.7, 0.8, 0.9):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(part)})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        for address in ("/blend/layer/1", "/blend/layer/4"):
            feedback.wait(address, lambda v: 2.2 < v < 2.8)          # 90 % of [-2, 3]: 2.5
    finally:
        context.close()


def test_buttons_presets_models_and_choices_reach_the_engine(browser_context, show):
    surface, host, _, _ = show
    page = open_page(browser_context, surface)
    page.locator('[aria-label="blend.panic"]').click()
    page.locator('[aria-label="preset name"]').select_option("warm")
    page.locator('[aria-label="morph seconds"]').fill("2")
    page.locator('[aria-label="preset.recall"]').click()
    page.locator('[aria-label="new preset name"]').fill("mine")
    page.locator('[aria-label="preset.save"]').click()
    page.locator('[aria-label="tempo.tap"]').click()
    page.locator('[aria-label="latent.walk.mode"]').select_option("noise")
    page.locator('[aria-label="latent.next_seed"]').click()
    page.locator('[aria-label="model A"]').select_option("models/c.pt")
    page.locator('[aria-label="models.swap"]').click()
    deadline = time.monotonic() + 3
    while len(host.actions.calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host.actions.calls == [("panic",), ("recall_preset", "warm", 2.0), ("save_preset", "mine"), ("tap_tempo",)]
    assert host.registry.get("latent.walk.mode") == 3.0
    assert host.registry.trigger_counts()["latent.next_seed"] == 1
    page.wait_for_function("document.getElementById('models-result').textContent.startsWith('loading')")
    assert host.swaps == [["models/c.pt", "models/b.pt"]]


def test_the_preview_shows_the_picture(browser_context, show):
    surface, _, _, _ = show
    page = open_page(browser_context, surface)
    assert page.locator("#preview").is_hidden()                       # off by default
    page.locator('[aria-label="preview"]').click()
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0", timeout=5000)
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#preview").screenshot())).convert("RGB")).astype(float)
    assert shot.std() > 5
    captured = surface.preview.captured
    time.sleep(0.8)
    assert surface.preview.captured > captured                        # a stream, a few frames a second
