"""The OSC addresses that are not parameters: actions, queries and feedback (no imports, so the
address table can be printed without loading the OSC library)."""

from __future__ import annotations

DESCRIBE_ADDRESS = "/engine/describe"
DUMP_ADDRESS = "/engine/dump"
FPS_ADDRESS = "/engine/fps"

ACTION_ADDRESSES = {
    "/preset/recall": "recall a preset by name; optional second argument: morph time",
    "/preset/save": "save the live state as a preset (name)",
    "/tempo/tap": "one tap of tap tempo (fires once per press: a bang, or a value > 0.5 after a release)",
    "/blend/panic": "return to the last preset / model A at once (fires once per press)",
    "/midi/learn": "bind the next MIDI control moved to a parameter (name, e.g. blend.layer.3)",
    DESCRIBE_ADDRESS: "reply with this table: one /engine/describe/row message per address, then "
                      "/engine/describe/done N ('json': one /engine/describe/json message)",
    DUMP_ADDRESS: "send every value now, as feedback does ('names': choices as names)",
}
# The OSC type of each action's arguments, for the table.
ACTION_TYPES = {"/preset/recall": "s [f]", "/preset/save": "s", "/midi/learn": "s",
                DESCRIBE_ADDRESS: "[s]", DUMP_ADDRESS: "[s]"}
QUERY_ADDRESSES = (DESCRIBE_ADDRESS, DUMP_ADDRESS)
