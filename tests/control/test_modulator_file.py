"""The [[mod]] tables of preset and mapping files: what parses, and one-line errors naming file and entry."""

from __future__ import annotations

import pytest

from engine.control.mapping import load_mapping
from engine.control.modulator_file import Route, load_mods, parse_mods
from engine.control.toml_read import loads
from engine.errors import ModulationError

GOOD = """
[[mod]]
name = "sway"
shape = "triangle"
sync = true
beats = 8
route = [ { param = "blend.curve.center", depth = 0.2 }, { param = "latent.psi", depth = -0.1 } ]

[[mod]]
name = "kick"
type = "envelope"
source = "audio.low"
attack = 0.005
release = 0.3
gain = 4
gate = 0.02

[[mod.route]]
param = "blend.layer.3"
depth = 1.5
"""


def test_both_route_spellings_parse(tmp_path):
    path = tmp_path / "show.toml"
    path.write_text(GOOD)
    sway, kick = load_mods(path)
    assert (sway.type, sway.shape, sway.sync, sway.beats, sway.polarity) == ("lfo", "triangle", True, 8.0, "bipolar")
    assert sway.routes == (Route("blend.curve.center", 0.2), Route("latent.psi", -0.1))
    assert (kick.type, kick.source, kick.gain, kick.polarity) == ("envelope", "audio.low", 4.0, "positive")
    assert kick.routes == (Route("blend.layer.3", 1.5),)
    assert kick.origin == "show.toml: [[mod]] #2 (kick)"


def test_a_file_without_mods_has_none():
    assert parse_mods(loads('name = "x"\n[params]\n"blend.mapping" = 1.0\n')) == ()


@pytest.mark.parametrize(("entry", "message"), [
    ('name = "a.b"\nroute = []', "name = 'a.b' must start with a letter"),
    ('name = "a"', "(a): no route; add route = "),
    ('name = "a"\nroute = []', "(a): route must be a non-empty array"),
    ('name = "a"\nshape = "saw"\nroute = [{param = "x", depth = 1}]', "shape = 'saw' is not one of sine, triangle"),
    ('name = "a"\nrate = 500\nroute = [{param = "x", depth = 1}]', "rate = 500 must be a number in 0..50"),
    ('name = "a"\nsource = "audio.low"\nroute = [{param = "x", depth = 1}]', "unknown key 'source' for type = 'lfo'"),
    ('name = "a"\ntype = "envelope"\nroute = [{param = "x", depth = 1}]', "an envelope needs source = "),
    ('name = "a"\nroute = [{param = "x"}]', "route #1 (x): missing depth"),
    ('name = "a"\nroute = [{depth = 1}]', "route #1: missing param"),
    ('name = "a"\nroute = [{param = "x", depth = 1, curve = "exp"}]', "route #1: unknown key 'curve'"),
    ('name = "a"\nsync = "yes"\nroute = [{param = "x", depth = 1}]', "sync = 'yes' must be true or false"),
])
def test_bad_entries_name_file_and_entry(tmp_path, entry, message):
    path = tmp_path / "bad.toml"
    path.write_text('[[mod]]\nname = "ok"\nroute = [{param = "x", depth = 1}]\n\n[[mod]]\n' + entry + "\n")
    with pytest.raises(ModulationError) as e:
        load_mods(path)
    text = str(e.value)
    assert text.startswith("bad.toml: [[mod]] #2") and "\n" not in text
    assert message in text


def test_duplicate_names_are_refused(tmp_path):
    path = tmp_path / "dup.toml"
    path.write_text('[[mod]]\nname = "a"\nroute = [{param = "x", depth = 1}]\n' * 2)
    with pytest.raises(ModulationError, match=r"dup.toml: \[\[mod\]\] #2 \(a\): the name is already used by"):
        load_mods(path)


def test_bad_toml_and_missing_file_are_one_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[[mod]\nname = 1\n")
    with pytest.raises(ModulationError, match="broken.toml: the file is not valid TOML"):
        load_mods(path)
    with pytest.raises(ModulationError, match="no such file"):
        load_mods(tmp_path / "absent.toml")


def test_mapping_files_carry_mods(tmp_path):
    path = tmp_path / "td.toml"
    path.write_text('[device]\nname = "TD"\n\n[[osc]]\naddress = "/td/a"\nparam = "blend.layer.0"\n\n'
                    '[[mod]]\nname = "wob"\nrate = 2.0\nroute = [{param = "blend.layer.0", depth = 0.1}]\n')
    mapping = load_mapping(path)
    assert [m.name for m in mapping.mods] == ["wob"] and mapping.mods[0].rate == 2.0
