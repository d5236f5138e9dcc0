"""Helpers shared by several test modules (test modules never import each other)."""

from __future__ import annotations

import textwrap
import time

import torch

from engine.control.actions import Actions
from engine.sinks.base import Frame, Sink

TINY = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=32, img_channels=3, mapping_kwargs={"num_layers": 2},
            channel_base=256, channel_max=16, architecture="skip")


def tiny_pair(seed: int = 0):
    """Two tiny compatible StyleGAN2 generators (32 px, 8 layers); B = A perturbed. Deterministic,
    without touching torch's global random state."""
    from engine.models.build import build_generator

    gen = torch.Generator().manual_seed(seed)
    shell = build_generator(TINY)
    a_sd = {k: torch.randn(v.shape, generator=gen) * 0.5 if v.is_floating_point() and "filter" not in k else v
            for k, v in shell.state_dict().items()}
    b_sd = {k: v + 0.3 * torch.randn(v.shape, generator=gen) if v.is_floating_point() and "filter" not in k else v
            for k, v in a_sd.items()}
    return [build_generator(TINY, a_sd), build_generator(TINY, b_sd)]



def sample_frames(n: int, h: int = 48, w: int = 64) -> list[Frame]:
    """``n`` RGBA frames ``h`` x ``w`` that differ from each other (red steps per frame, a green ramp)."""
    out = []
    for i in range(n):
        px = torch.zeros(h, w, 4, dtype=torch.uint8)
        px[..., 0] = (i * 37) % 256
        px[..., 1] = torch.arange(w, dtype=torch.uint8) * 3
        px[..., 2] = 200
        px[..., 3] = 255
        out.append(Frame(px, i, i / 30))
    return out

class RecordingActions(Actions):
    """Actions that remember every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def recall_preset(self, name, morph=None):
        self.calls.append(("recall_preset", name, morph))

    def save_preset(self, name):
        self.calls.append(("save_preset", name))

    def tap_tempo(self):
        self.calls.append(("tap_tempo",))

    def panic(self):
        self.calls.append(("panic",))


# Layer tables of real architectures, built with few channels (fast): what presets are laid on.
LAYER_COUNTS = {"stylegan2-256": 14, "stylegan3-1024": 16, "stylegan2-1024": 18}


def thin_generator(kind: str):
    """A generator of architecture ``kind`` (a key of LAYER_COUNTS) with 8 channels per layer: its
    layer table is the real one (index, resolution, keys); building it takes a fraction of a second."""
    from engine.models.build import build_generator

    family, res = kind.split("-")
    kwargs = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=int(res), img_channels=3,
                  mapping_kwargs={"num_layers": 2}, channel_max=8,
                  channel_base=16384 if family == "stylegan2" else 1024)
    return build_generator(kwargs, family=family)


class Collect(Sink):
    """A sink that keeps a copy of every frame (numpy RGBA), synchronously (on the render thread)."""

    name = "collect"
    on_render_thread = True

    def __init__(self):
        super().__init__()
        self.frames = []

    def _send(self, frame: Frame) -> None:
        self.frames.append(frame.numpy().copy())


class Broken(Sink):
    """A sink whose cable was pulled."""

    name = "broken"
    on_render_thread = True

    def _send(self, frame: Frame) -> None:
        raise OSError("cable pulled")


def make_show(tmp_path, sinks=(), fps: float = 10.0, models=None, **kwargs):
    """A Show over the tiny pair on a fake clock, presets in ``tmp_path/presets``, outputs open."""
    from engine.core.clock import FakeClock
    from engine.show.build import build_show

    show = build_show(models or tiny_pair(), torch.device("cpu"), clock=FakeClock(fps=fps), fps=fps,
                      presets_dir=tmp_path / "presets", **kwargs)
    for sink in sinks:
        show.add_sink(sink)
    show.loop.sinks.open(show.renderer.width, show.renderer.height)
    return show


def steps(show, n: int) -> None:
    """Render ``n`` frames of a show."""
    for _ in range(n):
        show.loop.step()


def wait_for(predicate, timeout: float = 3.0, step: float = 1 / 60) -> float | None:
    """Poll like a render loop at 60 fps; the seconds it took, or None on timeout."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if predicate():
            return max(time.perf_counter() - start, 1e-9)
        time.sleep(step)
    return max(time.perf_counter() - start, 1e-9) if predicate() else None


def send_paced(port, messages, every: int = 8, pause: float = 0.002) -> None:
    """Send MIDI with a short pause every few messages (rtmidi's ring buffer drops unpaced bursts)."""
    for i, msg in enumerate(messages):
        port.send(msg)
        if i % every == every - 1:
            time.sleep(pause)


FLOODER = textwrap.dedent("""
    import math, random, socket, struct, sys, time
    def pad(b):
        return b + b"\\0" * (4 - len(b) % 4)
    def msg(addr, tags, payload):
        return pad(addr.encode()) + pad(("," + tags).encode()) + payload
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    rng = random.Random(1)
    nan, inf = struct.pack(">f", math.nan), struct.pack(">f", math.inf)
    garbage = [
        msg("/blend/layer/1", "f", nan), msg("/blend/layer/1", "f", inf),
        msg("/blend/layer/1", "s", pad(b"loud")), msg("/blend/layer/1", "", b""),
        msg("/blend/layer/1", "b", struct.pack(">i", 3) + pad(b"abc")),
        msg("/blend/curve/direction", "s", pad(b"sideways")),
        msg("/blend/layer", "f" * 2000, nan * 2000),
        msg("/no/such/list", "f" * 2000, struct.pack(">f", 0.5) * 2000),
        msg("/blend/layer/1", "f", b"\\x01"),                       # truncated float
        msg("/blend/layer/1", "q", b"\\0" * 8),                      # unknown type tag
        b"#bundle\\0" + b"\\xff" * 40,                                # bundle with a bad size
    ]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, end = 0, time.time() + seconds
    while time.time() < end:
        kind = rng.random()
        if kind < 0.3:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
        elif kind < 0.5:
            data = msg("/x%d/%d" % (rng.randint(0, 10**6), rng.randint(0, 9)), "f", struct.pack(">f", 1.0))
        else:
            data = rng.choice(garbage)
        try:
            s.sendto(data, ("127.0.0.1", port))
            sent += 1
        except OSError:
            pass
    print(sent)
""")


def wait_until_idle(srv, timeout: float) -> bool:
    """Wait until the server has handled no packet for 0.1 s."""
    last, end = -1, time.perf_counter() + timeout
    while time.perf_counter() < end:
        if srv.adapter.stats.packets == last:
            return True
        last = srv.adapter.stats.packets
        time.sleep(0.1)
    return False
