"""Recordings: timed by the show clock, checked before the show, and never lost to a failure."""

import logging
import os

import pytest

from engine.cli import main
from engine.sinks import make_sinks, output_failures
from engine.sinks.base import Frame, SinkError
from engine.sinks.record import RecordSink

av = pytest.importorskip("av")


def frame(i: int, t: float, h: int = 48, w: int = 64) -> Frame:
    import torch

    px = torch.zeros(h, w, 4, dtype=torch.uint8)
    px[..., 0] = (i * 37) % 256
    px[..., 1] = torch.arange(w, dtype=torch.uint8) * 3
    px[..., 2] = 200
    px[..., 3] = 255
    return Frame(px, i, t)


def decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, float(stream.average_rate)


def red_of(image) -> float:
    return float(image[..., 0].mean())


def test_a_10_second_show_at_7_fps_is_a_10_second_file(tmp_path):
    path = tmp_path / "live.mp4"
    with RecordSink(path, fps=30, block=True).open(64, 48) as sink:
        for i in range(70):                                     # 7 fps for 10 s of show clock
            sink.send(frame(i, 3.25 + i / 7))                   # the clock need not start at 0
    decoded, rate = decode(path)
    assert rate == 30
    assert len(decoded) == 300                                  # 10.0 s at 30 fps
    # Output frame 150 (t = 5 s) shows show frame 35 (t = 5 s), and each image is held until the next.
    assert abs(red_of(decoded[150]) - (35 * 37) % 256) < 4
    assert abs(red_of(decoded[152]) - (35 * 37) % 256) < 4
    assert abs(red_of(decoded[299]) - (69 * 37) % 256) < 4
    assert sink.shown == 70 and sink.frames == 300


def test_a_show_faster_than_the_file_skips_frames_and_keeps_time(tmp_path):
    path = tmp_path / "fast.mp4"
    with RecordSink(path, fps=30, block=True).open(64, 48) as sink:
        for i in range(120):                                    # 60 fps for 2 s
            sink.send(frame(i, i / 60))
    decoded, _ = decode(path)
    assert len(decoded) == 60 and sink.skipped == 60


def test_offline_recordings_are_byte_identical_and_one_frame_per_show_frame(tmp_path):
    # (At 64x48 and below, x264 itself is occasionally not deterministic; real frame sizes are.)
    paths = [tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "c.mp4"]
    for path in paths:
        with RecordSink(path, fps=24, block=True).open(128, 96) as sink:
            for i in range(48):
                sink.send(frame(i, i / 24, 96, 128))
    assert paths[0].read_bytes() == paths[1].read_bytes() == paths[2].read_bytes()
    decoded, rate = decode(paths[0])
    assert len(decoded) == 48 and rate == 24
    assert abs(red_of(decoded[20]) - (20 * 37) % 256) < 4


@pytest.mark.parametrize("name, options, message", [
    ("/proc/y.mp4", {}, "cannot write in /proc"),
    ("out.avi", {}, "unknown video type '.avi'; name the file out.mp4"),
    ("out.mp4", {"codec": "libnotreal"}, "no 'libnotreal' encoder; use codec=libx264"),
    ("out.webm", {"codec": "libx264"}, "webm files cannot hold libx264 video"),
    ("file.txt/out.mp4", {}, "is not a folder"),
])
def test_check_names_what_is_wrong_before_the_show_and_writes_nothing(tmp_path, name, options, message):
    (tmp_path / "file.txt").write_text("x")
    before = sorted(os.listdir(tmp_path))
    path = name if name.startswith("/") else str(tmp_path / name)
    spec = ",".join([f"record:{path}", *(f"{k}={v}" for k, v in options.items())])
    with pytest.raises(SinkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_sinks([spec], {})
    assert sorted(os.listdir(tmp_path)) == before


def test_a_folder_that_does_not_exist_yet_is_fine_and_created_at_open(tmp_path):
    sink = make_sinks([f"record:{tmp_path / 'new' / 'deeper' / 'out.mp4'},fps=25"], {})[0]
    assert not (tmp_path / "new").exists()
    with sink.open(64, 48):
        sink.send(frame(0, 0.0))
    assert (tmp_path / "new" / "deeper" / "out.mp4").is_file()


class FailingEncoder(RecordSink):
    """A recording whose encoder breaks at output frame ``fail_at`` (a driver error, a full encoder)."""

    fail_at = 20

    def _encode(self, image, pts):
        if pts == self.fail_at:
            raise av.error.FFmpegError(22, "encoder exploded")     # EINVAL, as FFmpeg reports it
        super()._encode(image, pts)


def test_an_encoder_error_mid_recording_keeps_every_frame_before_it(tmp_path, caplog):
    path = tmp_path / "show.mp4"
    sink = FailingEncoder(path, fps=30, block=True).open(64, 48)
    with caplog.at_level(logging.ERROR, logger="netblend"):
        with pytest.raises(SinkError) as failed:
            for i in range(40):
                sink.send(frame(i, i / 30))
        assert "output record" in caplog.text and "encoder exploded" in caplog.text      # logged at once
    message = str(failed.value)
    assert str(path) in message and "encoding frame 20 failed" in message and "keeps the 20 frames" in message
    sink.close()
    decoded, _ = decode(path)                        # a proper file, closed at the last good frame
    assert len(decoded) == 20
    assert abs(red_of(decoded[19]) - (19 * 37) % 256) < 4
    assert not sink.partial_path.exists()


def test_a_failing_final_flush_is_reported_not_swallowed(tmp_path):
    class BrokenFlush:
        def __init__(self, stream):
            self.stream = stream

        def __getattr__(self, name):
            return getattr(self.stream, name)

        def encode(self, image=None):
            if image is None:
                raise av.error.OSError(28, "No space left on device")
            return self.stream.encode(image)

    path = tmp_path / "show.mp4"
    sink = RecordSink(path, fps=30, block=True).open(64, 48)
    sink._stream = BrokenFlush(sink._stream)
    for i in range(5):
        sink.send(frame(i, i / 30))
    with pytest.raises(SinkError, match=f"record {path}.*No space left on device"):
        sink.close()
    assert sink.failure and "No space left" in sink.failure
    assert output_failures([sink], []) == [f"record {path}: {sink.failure}"]


def test_render_to_an_unwritable_place_fails_at_once_with_one_line(capsys, tmp_path):
    assert main(["render", "--seconds", "1", "-o", "/proc/y.mp4", "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["netblend: error: record /proc/y.mp4: cannot write in /proc (No such file or directory); "
                   "choose a folder you can write to"]
    assert not os.path.exists("/proc/y.mp4")


def test_run_refuses_an_unknown_container_before_the_show(capsys, tmp_path):
    out = tmp_path / "out.avi"
    assert main(["run", "--sink", f"record:{out}", "--seconds", "0.2", "--osc-port", "0", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"record {out}: unknown video type '.avi'" in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_render_twice_gives_the_same_bytes(tmp_path):
    outs = [tmp_path / "r0.mp4", tmp_path / "r1.mp4"]
    for out in outs:
        assert main(["render", "--seconds", "1", "--fps", "6", "--size", "128x96", "-o", str(out),
                     "--device", "cpu", "--quiet"]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert len(decode(outs[0])[0]) == 6


@pytest.mark.slow
def test_run_exits_non_zero_naming_the_file_when_the_recording_fails(tmp_path, capsys, monkeypatch):
    encode = RecordSink._encode

    def failing(self, image, pts):
        if pts == 3:
            raise av.error.FFmpegError(22, "encoder exploded")
        encode(self, image, pts)

    monkeypatch.setattr(RecordSink, "_encode", failing)
    video = tmp_path / "live.mp4"
    code = main(["run", "--seconds", "1.5", "--fps", "8", "--sink", "null", "--sink", f"record:{video}",
                 "--osc-port", "0", "--autosave", "0", "--device", "cpu", "--presets", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    lines = [line for line in captured.err.splitlines() if "output failed" in line]
    assert len(lines) == 1 and str(video) in lines[0] and "encoding frame" in lines[0]
    assert "frames in" in captured.out                                       # the show itself went on
    assert len(decode(video)[0]) == 3
