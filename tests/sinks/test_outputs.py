"""The file and network outputs, and the sink spec / availability table."""

import pytest

from engine.cli import main
from engine.errors import NetblendError
from engine.sinks import parse_sink, sink_class, sink_table
from engine.sinks.base import SinkError
from engine.sinks.null import NullSink
from engine.sinks.record import RecordSink
from tests.helpers import sample_frames


def test_close_is_idempotent_and_send_needs_open():
    sink = NullSink()
    with pytest.raises(SinkError, match="not open"):
        sink.send(sample_frames(1)[0])
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
