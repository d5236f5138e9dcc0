"""The file and network outputs, and the sink spec / availability table."""

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.errors import NetblendError
from engine.sinks import parse_sink, sink_class, sink_table
from engine.sinks.base import Frame, SinkError
from engine.sinks.ndi import NdiSink
from engine.sinks.null import NullSink
from engine.sinks.record import RecordSink
from engine.sinks.snapshot import SnapshotSink


def frames(n, h=48, w=64):
    out = []
    for i in range(n):
        px = torch.zeros(h, w, 4, dtype=torch.uint8)
        px[..., 0] = (i * 37) % 256
        px[..., 1] = torch.arange(w, dtype=torch.uint8) * 3
        px[..., 2] = 200
        px[..., 3] = 255
        out.append(Frame(px, i, i / 30))
    return out


def test_record_writes_every_frame_and_the_colours_survive(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "show.mp4"
    sent = frames(45)
    with RecordSink(path, fps=30, block=True).open(64, 48) as sink:
        for f in sent:
            sink.send(f)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [fr.to_ndarray(format="rgb24") for fr in container.decode(stream)]
        assert float(stream.average_rate) == 30
    assert len(decoded) == 45
    err = np.abs(decoded[20].astype(int) - sent[20].numpy()[..., :3].astype(int))
    assert err.mean() < 3


def test_record_refuses_odd_sizes_and_unknown_types_clearly(tmp_path):
    with pytest.raises(SinkError, match="even frame size"):
        RecordSink(tmp_path / "a.mp4").open(63, 48)
    with pytest.raises(SinkError, match="unknown video type '.xyz'"):
        RecordSink(tmp_path / "a.xyz").open(64, 48)


def test_snapshot_saves_the_requested_frame(tmp_path):
    from PIL import Image

    sent = frames(5)
    with SnapshotSink(tmp_path).open(64, 48) as sink:
        sink.send(sent[0])
        sink.request()
        sink.send(sent[3])
        sink.send(sent[4])
    assert len(sink.written) == 1
    img = np.asarray(Image.open(sink.written[0]))
    assert np.array_equal(img, sent[3].numpy()[..., :3])


def test_ndi_sends_packed_rgba_rows_to_the_sender():
    # Never start a real NDI sender in tests (it announces itself on the LAN): replace it.
    class FakeSender:
        def __init__(self, name, w, h, fps):
            self.args, self.data, self.closed = (name, w, h, fps), [], False

        def write_video_async(self, data):
            self.data.append(np.array(data))

        def close(self):
            self.closed = True

    made = []
    sink = NdiSink("stage-left", fps=50, sender_factory=lambda *a: made.append(FakeSender(*a)) or made[-1])
    sent = frames(2)
    with sink.open(64, 48):
        for f in sent:
            sink.send(f)
    sender = made[0]
    assert sender.args == ("stage-left", 64, 48, 50)
    assert np.array_equal(sender.data[1], sent[1].numpy().reshape(-1))
    assert sender.closed


def test_close_is_idempotent_and_send_needs_open():
    sink = NullSink()
    with pytest.raises(SinkError, match="not open"):
        sink.send(frames(1)[0])
    sink.open(8, 8)
    sink.close()
    sink.close()


def test_sink_specs_parse_and_unknown_names_are_named():
    spec = parse_sink("record:out.mp4,fps=25")
    assert (spec.name, spec.arg, spec.options) == ("record", "out.mp4", {"fps": "25"})
    assert parse_sink("window:fullscreen,screen=1").options == {"screen": "1"}
    with pytest.raises(NetblendError, match="unknown output 'ndii'.*choose from"):
        parse_sink("ndii:x")
    assert sink_class("record") is RecordSink


def test_sinks_command_explains_each_missing_backend(capsys):
    table = {name: status for name, status, _ in sink_table()}
    assert table["null"] == "available"
    assert set(table) == {"null", "window", "record", "snapshot", "ndi", "spout", "syphon", "vcam"}
    assert "Windows only" in table["spout"] or table["spout"] == "available"
    assert main(["sinks"]) == 0
    out = capsys.readouterr().out
    assert "spout" in out and "->" in out
