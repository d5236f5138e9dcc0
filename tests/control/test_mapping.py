"""Mapping files: every shipped file validates against the engine's parameter names; bad files fail
with a message that names the file, the binding and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.control.mapping import load_mapping
from engine.errors import MappingError
from tests.control.conftest import engine_registry

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
SHIPPED = sorted(MAPPINGS.glob("*.toml"))
CONTROLLERS = ["nanokontrol2.toml", "launchcontrol_xl.toml", "midimix.toml", "apc40.toml"]


def test_the_four_controllers_are_shipped():
    names = {p.name for p in SHIPPED}
    assert set(CONTROLLERS) <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_mapping_validates(path):
    mapping = load_mapping(path)
    registry = engine_registry(num_layers=18)
    assert mapping.unknown_params(registry) == []
    assert mapping.midi or mapping.osc
    for b in mapping.midi:
        assert b.number is None or 0 <= b.number <= (16383 if b.control == "nrpn" else 127)
        assert all(0 <= n <= 127 for n in b.cc_numbers())
        if b.param and registry.spec(b.param).kind == "trigger":
            assert b.is_button, f"{b.describe()}: a trigger parameter needs a button"
    if mapping.midi:
        assert mapping.device.port, "a controller mapping needs [device].port"
        if not mapping.device.verified:
            assert "not yet tested on the hardware" in " ".join(mapping.device.notes.split())


@pytest.mark.parametrize("name", CONTROLLERS)
def test_controller_mappings_drive_layers_curve_latents_and_buttons(name):
    mapping = load_mapping(MAPPINGS / name)
    params = mapping.params()
    assert {"blend.curve.amount", "blend.curve.center", "latent.psi"} <= params
    assert any(b.range[0] < 0.0 or b.range[1] > 1.0 for b in mapping.midi if b.param and
               b.param.startswith("blend.")), "no overblend range"
    targets = {b.target for b in mapping.midi if b.is_button}
    assert "action panic" in targets and "action tap" in targets and "latent.next_seed" in targets


def content_lines(path: Path) -> int:
    """Lines that are not blank and not only a comment."""
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_map_plays_a_1024px_model_in_60_lines(path):
    """Against an 18-layer (1024 px StyleGAN2) show: every binding resolves, every layer is reachable
    (in some bank), the walk mode and the preset morph time have a control, and the file stays small."""
    registry = engine_registry(num_layers=18)
    mapping = load_mapping(path)
    assert mapping.unknown_params(registry) == []
    params = mapping.params()
    assert {f"blend.layer.{i}" for i in range(18)} <= params, "some layers cannot be reached"
    assert "latent.walk.mode" in params and "preset.morph" in params
    assert content_lines(path) <= 60, f"{content_lines(path)} lines; range rows keep a map short"


@pytest.mark.parametrize("name", CONTROLLERS)
def test_controller_buttons_recall_presets_that_ship_and_select_seeds_directly(name):
    shipped = {p.stem for p in (MAPPINGS.parent / "presets").glob("*.toml")}
    bindings = load_mapping(MAPPINGS / name).midi
    recalled = [b.preset for b in bindings if b.preset and b.action != "save"]
    assert len(recalled) >= 8 and set(recalled) <= shipped, set(recalled) - shipped
    seeds = [b.value for b in bindings if b.param == "latent.seed" and b.button == "trigger"]
    assert len(set(seeds)) >= 8, "a direct seed bank: buttons that each select one seed"


def test_the_banked_controller_reaches_every_layer_by_switching_banks():
    """nanoKONTROL2: eight faders, three banks; each layer has a fader in exactly one bank."""
    mapping = load_mapping(MAPPINGS / "nanokontrol2.toml")
    owners = {}
    for b in mapping.midi:
        if b.param and b.param.startswith("blend.layer."):
            assert b.param not in owners, f"{b.param} on two controls"
            owners[b.param] = b.bank
    assert len(owners) == 18 and len(mapping.banks) == 3
    assert {b.select for b in mapping.midi if b.action == "bank"} == set(mapping.banks)


def write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,needles", [
    ('[[midi]]\ncontrol = "cc"\nnumber = 200\nparam = "latent.psi"\n', ["#1", "number = 200", "0..127"]),
    ('[[midi]]\ncontrol = "knob"\nnumber = 1\nparam = "latent.psi"\n', ["control = 'knob'", "cc, cc14"]),
    ('[[midi]]\ncontrol = "cc"\nnumber = 1\nparam = "latent.psi"\nrang = [0, 1]\n', ["unknown key 'rang'"]),
    ('[[midi]]\ncontrol = "cc"\nnumber = 1\nparam = "latent.psi"\nrange = [1, 1]\n', ["two different"]),
    ('[[midi]]\ncontrol = "cc"\nnumber = 1\n', ["exactly one of param / preset / action"]),
    ('[[midi]]\ncontrol = "cc"\nnumber = 1\nparam = "a"\n[[midi]]\ncontrol = "cc"\nchannel = 2\nnumber = 1\n'
     'param = "b"\n', ["#2 (cc 1, channel 2) uses the same control as [[midi]] #1", "remove one"]),
    ('[[midi]]\ncontrol = "cc14"\nnumber = 1\nparam = "a"\n[[midi]]\ncontrol = "cc"\nnumber = 33\nparam = "b"\n',
     ["same control"]),
    ('[[midi]]\ncontrol = "note"\nnumber = 1\naction = "save"\n', ["needs preset = NAME"]),
    ('[[midi]]\ncontrol = "pitchbend"\nparam = "a"\nmode = "relative-twos"\n', ["relative encoders need"]),
    ('[device]\nport = "nano[KONTROL"\n', ["not a valid regex"]),
    ('[[osc]]\naddress = "td/fader1"\nparam = "a"\n', ["[[osc]] #1", "starting with '/'"]),
    ('[[osc]]\naddress = "/a"\nparam = "x"\n[[osc]]\naddress = "/a"\nparam = "y"\n', ["repeats address /a"]),
    ('[[midi]\ncontrol = "cc"\n', ["not valid TOML"]),
])
def test_bad_files_name_file_binding_and_fix(tmp_path, text, needles):
    with pytest.raises(MappingError) as err:
        load_mapping(write(tmp_path, text))
    message = str(err.value)
    assert "bad.toml" in message and "\n" not in message
    for needle in needles:
        assert needle in message


def test_missing_file(tmp_path):
    with pytest.raises(MappingError, match="no such file"):
        load_mapping(tmp_path / "absent.toml")


def test_osc_aliases_for_the_osc_server(tmp_path):
    mapping = load_mapping(write(tmp_path, '[[osc]]\naddress = "/td/fader1"\nparam = "blend.layer.3"\n'
                                           'range = [-1.0, 2.0]\n[[osc]]\naddress = "/raw"\nparam = "latent.psi"\n'))
    assert [(a.address, a.param, a.range) for a in mapping.osc] == [
        ("/td/fader1", "blend.layer.3", (-1.0, 2.0)), ("/raw", "latent.psi", None)]
    assert mapping.unknown_params(engine_registry(10)) == []


def test_range_rows_stand_for_one_binding_each(tmp_path):
    mapping = load_mapping(write(tmp_path, """
midi = [
  { control = "cc", number = "0-7", index = "8-15", param = "blend.layer.{i}", range = [-1.0, 2.0] },
  { control = "note", number = [36, 38, 42], param = "latent.seed", button = "trigger", value = [5, 50, 500] },
  { control = "note", number = "60-65", param = "latent.walk.mode", button = "trigger", value = "{i}" },
  { control = "cc", channel = "1-4", number = 20, preset = ["a", "b", "c", "d"] },
]
"""))
    faders = mapping.midi[:8]
    assert [(b.number, b.param, b.range) for b in faders[:2]] == [(0, "blend.layer.8", (-1.0, 2.0)),
                                                                  (1, "blend.layer.9", (-1.0, 2.0))]
    assert faders[-1].param == "blend.layer.15" and faders[-1].describe().startswith("[[midi]] #1.8 (cc 7")
    assert [(b.number, b.value) for b in mapping.midi[8:11]] == [(36, 5.0), (38, 50.0), (42, 500.0)]
    assert [b.value for b in mapping.midi[11:17]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [(b.channel, b.preset) for b in mapping.midi[17:]] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert mapping.unknown_params(engine_registry(18)) == []


def test_osc_range_rows(tmp_path):
    row = 'osc = [{ address = "/td/l/{i}", index = "2-4", param = "blend.layer.{i}" }]\n'
    mapping = load_mapping(write(tmp_path, row))
    assert [(a.address, a.param) for a in mapping.osc] == [("/td/l/2", "blend.layer.2"), ("/td/l/3", "blend.layer.3"),
                                                           ("/td/l/4", "blend.layer.4")]


def test_a_control_may_serve_several_banks(tmp_path):
    mapping = load_mapping(write(tmp_path, """
device.bank = "B"
midi = [
  { control = "cc", number = "0-1", param = "blend.layer.{i}", bank = "A" },
  { control = "cc", number = "0-1", index = "2-3", param = "blend.layer.{i}", bank = "B" },
  { control = "note", number = 1, action = "bank", bank = "A" },
  { control = "note", number = 2, action = "shift", bank = "B" },
]
"""))
    assert mapping.banks == ["A", "B"] and mapping.start_bank == "B"
    assert [b.target for b in mapping.midi[4:]] == ["bank A", "shift B"]


@pytest.mark.parametrize("text,needles", [
    ('midi = [{ control = "cc", number = "0-7", param = "blend.layer.{i}", preset = ["a", "b"] }]\n',
     ["#1", "as long as each other", "number has 8", "preset has 2"]),
    ('midi = [{ control = "cc", number = 3, param = "blend.layer.{i}" }]\n', ["#1", "{i}", "range row"]),
    ('midi = [{ control = "cc", number = "7-0", param = "blend.layer.{i}" }]\n', ["runs backwards", '"0-7"']),
    ('midi = [{ control = "cc", number = "0-500", param = "x.{i}" }]\n', ["more than 128"]),
    ('midi = [{ control = "cc", number = "a-b", param = "x.{i}" }]\n', ["not a span"]),
    ('midi = [{ control = "cc", number = "0-3", param = "blend.layer.{i}", range = [0, 1] },\n'
     '        { control = "cc", number = 2, param = "latent.psi" }]\n',
     ["#2 (cc 2, any channel) uses the same control as [[midi]] #1.3"]),
    ('midi = [{ control = "cc", number = 0, param = "a", bank = "A" }, { control = "cc", number = 0, param = "b", '
     'bank = "A" }]\n', ["same control", "banks"]),
    ('midi = [{ control = "cc", number = 0, param = "a", bank = "A" }, { control = "cc", number = 0, param = "b", '
     'bank = "B" }]\n', ["bank 'B' can never be selected", 'action = "bank"']),
    ('midi = [{ control = "cc", number = 0, param = "a", bank = "A" }, { control = "note", number = 1, '
     'action = "bank", bank = "C" }]\n', ["selects bank 'C'", "banks here: 'A'"]),
    ('midi = [{ control = "note", number = 1, action = "shift" }]\n', ["needs bank = NAME"]),
    ('[device]\nport = "' + "(" * 5000 + ")" * 5000 + '"\n', ["[device] port", "characters long"]),
    ("a = " + "[" * 3000 + "]" * 3000 + "\n", ["nests", "too deeply"]),
])
def test_bad_range_rows_banks_and_hostile_files_are_one_line_errors(tmp_path, text, needles):
    with pytest.raises(MappingError) as err:
        load_mapping(write(tmp_path, text))
    message = str(err.value)
    assert "bad.toml" in message and "\n" not in message and len(message) < 400
    for needle in needles:
        assert needle in message


def test_a_byte_order_mark_from_notepad_is_accepted(tmp_path):
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[[midi]]\r\ncontrol = "cc"\r\nnumber = 1\r\nparam = "latent.psi"\r\n')
    assert load_mapping(path).midi[0].param == "latent.psi"


def test_a_fifo_or_a_huge_file_is_refused_without_reading_it(tmp_path):
    import os

    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(MappingError, match="not a regular file"):
        load_mapping(fifo)
    big = tmp_path / "big.toml"
    big.write_text("# x\n" * 400_000)
    with pytest.raises(MappingError, match="at most"):
        load_mapping(big)


def test_unknown_parameters_suggest_the_name_meant():
    from engine.control.mapping import parse_mapping

    mapping = parse_mapping({"midi": [dict(control="cc", number=1, param="blend.curve.centre")],
                             "osc": [dict(address="/x", param="latent.pis")]}, "my.toml")
    problems = mapping.unknown_params(engine_registry(18))
    assert "did you mean 'blend.curve.center'?" in problems[0] and "did you mean 'latent.psi'?" in problems[1]


def test_shipped_maps_load_by_name_and_a_typo_names_them():
    assert load_mapping("nanokontrol2").device.name == "Korg nanoKONTROL2"
    assert load_mapping("apc40.toml").device.port == "APC40"
    with pytest.raises(MappingError) as err:
        load_mapping("nanokontrl2")
    assert "did you mean 'nanokontrol2'?" in str(err.value) and "launchcontrol_xl" in str(err.value)
