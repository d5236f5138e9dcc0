"""NDI without a network: the sender object is always replaced (NOTES.md, network rule)."""

import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.sinks.base import Frame
from engine.sinks.ndi import NdiSink, build_sender


class PacedSender:
    """Behaves like cyndilib's Sender with clock_video=True: each send sleeps to hold ``fps``."""

    def __init__(self, name, width, height, fps, pace=True):
        self.args = (name, width, height, fps)
        self.period = 1.0 / fps if pace else 0.0
        self.data: list[np.ndarray] = []
        self.closed = False

    def write_video_async(self, data):
        time.sleep(self.period)
        self.data.append(np.array(data))

    def close(self):
        self.closed = True


def pattern(i: int, h: int = 48, w: int = 64) -> torch.Tensor:
    px = torch.zeros(h, w, 4, dtype=torch.uint8)
    px[..., 0] = i
    px[..., 1] = torch.arange(w, dtype=torch.uint8)
    px[..., 3] = 255
    return px


def test_the_sender_is_built_unclocked_so_the_show_sets_the_pace():
    made = {}

    class Sender:
        def __init__(self, name, **kwargs):
            made["sender"] = (name, kwargs)

        def set_video_frame(self, video):
            made["video"] = video

    class VideoSendFrame:
        def set_resolution(self, w, h):
            self.size = (w, h)

        def set_frame_rate(self, rate):
            self.rate = rate

        def set_fourcc(self, fourcc):
            self.fourcc = fourcc

    api = SimpleNamespace(Sender=Sender, VideoSendFrame=VideoSendFrame, FourCC=SimpleNamespace(RGBA="RGBA"))
    build_sender("stage-left", 640, 360, 59.94, api=api)
    assert made["sender"] == ("stage-left", {"clock_video": False})
    video = made["video"]
    assert video.size == (640, 360) and video.fourcc == "RGBA" and float(video.rate) == pytest.approx(59.94)


def test_with_cyndilib_the_real_sender_object_is_unclocked_and_never_opened():
    pytest.importorskip("cyndilib")
    sender = build_sender("netblend-test", 64, 48, 30.0)       # built, not opened: nothing is announced
    assert sender.clock_video is False
    assert sender.has_video_frame


def test_a_paced_ndi_sender_no_longer_paces_the_show():
    made = []
    sink = NdiSink("stage", fps=30, sender_factory=lambda *a: made.append(PacedSender(*a)) or made[-1])
    frames = [pattern(i) for i in range(30)]
    with sink.open(64, 48):
        start = time.perf_counter()
        for i, px in enumerate(frames):                          # as fast as a 100+ fps show would send
            sink.send(Frame(px, i))
        send_time = time.perf_counter() - start
    sender = made[0]
    assert send_time < 0.5 * 30 / 30                            # the show did not wait 1 s for the sender
    assert sink.dropped > 0 and sink.delivered == len(sender.data) < 30
    assert sender.closed
    last = sender.data[-1].reshape(48, 64, 4)
    assert np.array_equal(last, frames[-1].numpy())              # the newest frame got through whole


def test_ndi_gets_packed_rgba_rows_top_row_first():
    made = []
    sink = NdiSink("stage-left", fps=50, sender_factory=lambda *a: made.append(PacedSender(*a, pace=False))
                   or made[-1])
    px = pattern(7)
    with sink.open(64, 48):
        sink.send(Frame(px, 0))
        assert sink.wait_idle(5)
    sender = made[0]
    assert sender.args == ("stage-left", 64, 48, 50)
    assert np.array_equal(sender.data[0], px.numpy().reshape(-1))


def test_a_failed_send_loses_one_frame_and_the_sender_keeps_going(caplog):
    class Hiccup(PacedSender):
        def write_video_async(self, data):
            if len(self.data) == 1 and not getattr(self, "failed", False):
                self.failed = True
                raise OSError("network hiccup")
            super().write_video_async(data)

    made = []
    sink = NdiSink("stage", sender_factory=lambda *a: made.append(Hiccup(*a, pace=False)) or made[-1])
    sink.open(64, 48)
    for i in range(4):
        sink.send(Frame(pattern(i), i))
        assert sink.wait_idle(5)
    assert len(made[0].data) == 3 and sink.failed_sends == 1
    assert "network hiccup" in caplog.text
    with pytest.raises(Exception, match="1 frame\\(s\\) could not be sent"):
        sink.close()                                            # reported at exit
