"""docs/touchdesigner.md against the engine: every address it tells a TouchDesigner user to send
exists, every alias it lists is in the shipped alias file, and the button rule it states holds."""

from __future__ import annotations

import re
from pathlib import Path

from pythonosc.osc_message_builder import build_msg

from engine.control.mapping import load_mapping
from engine.control.osc import OscAdapter
from engine.control.osc_table import address_rows
from tests.control.conftest import engine_registry
from tests.helpers import RecordingActions

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "touchdesigner.md").read_text()
TD = ("127.0.0.1", 50123)


def test_every_address_the_doc_names_exists():
    registry = engine_registry(18)
    known = {row.address for row in address_rows(registry)}
    known |= {"/engine/describe/row", "/engine/describe/done", "/engine/describe/json", "/engine/dump/done"}
    named = {a.rstrip(".,") for a in re.findall(r"`(/(?:blend|latent|engine|tempo|preset|midi)/[a-z_/0-9.]*)", DOC)}
    assert named and named - known == set()


def test_every_alias_the_doc_lists_is_in_the_shipped_file():
    aliases = {a.address for a in load_mapping(ROOT / "mappings" / "touchdesigner.toml").osc}
    listed = set(re.findall(r"`(/td/[a-z/0-9]+)`", DOC))
    assert listed and listed - aliases == set()


def test_a_button_held_with_send_events_every_cook_fires_once():
    now = [0.0]
    actions = RecordingActions()
    osc = OscAdapter(engine_registry(18), actions, clock=lambda: now[0])
    for _ in range(60):                                  # one second held, one message per cook
        osc.handle_packet(build_msg("/tempo/tap", 1.0).dgram, TD)
        now[0] += 1 / 60
    osc.handle_packet(build_msg("/tempo/tap", 0.0).dgram, TD)
    osc.handle_packet(build_msg("/tempo/tap", 1.0).dgram, TD)
    assert actions.calls == [("tap_tempo",), ("tap_tempo",)]
