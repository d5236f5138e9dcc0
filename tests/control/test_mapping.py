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
    assert {f"blend.layer.{i}" for i in range(8)} <= params
    assert {"blend.curve.amount", "blend.curve.center", "latent.psi"} <= params
    assert any(p.startswith("latent.walk.") for p in params)
    assert any(b.range[0] < 0.0 or b.range[1] > 1.0 for b in mapping.midi if b.param and
               b.param.startswith("blend.")), "no overblend range"
    targets = {b.target for b in mapping.midi if b.is_button}
    assert "action panic" in targets and "action tap" in targets and "latent.next_seed" in targets
    assert sum(t.startswith("preset ") for t in targets) >= 4


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
    with pytest.raises(MappingError, match="no such mapping file"):
        load_mapping(tmp_path / "absent.toml")


def test_osc_aliases_for_the_osc_server(tmp_path):
    mapping = load_mapping(write(tmp_path, '[[osc]]\naddress = "/td/fader1"\nparam = "blend.layer.3"\n'
                                           'range = [-1.0, 2.0]\n[[osc]]\naddress = "/raw"\nparam = "latent.psi"\n'))
    assert [(a.address, a.param, a.range) for a in mapping.osc] == [
        ("/td/fader1", "blend.layer.3", (-1.0, 2.0)), ("/raw", "latent.psi", None)]
    assert mapping.unknown_params(engine_registry(10)) == []


@pytest.mark.parametrize("name", CONTROLLERS)
def test_preset_buttons_recall_shipped_presets_or_user_slots(name):
    """A recall button names a preset in presets/, or a user slot (user-N, or one a save button writes)."""
    shipped = {p.stem for p in (MAPPINGS.parent / "presets").glob("*.toml")}
    bindings = load_mapping(MAPPINGS / name).midi
    saved = {b.preset for b in bindings if b.action == "save"}
    recalled = {b.preset for b in bindings if b.preset and b.action != "save"}
    assert recalled & shipped, "the buttons should reach the example presets"
    assert all(p in shipped or p in saved or p.startswith("user-") for p in recalled), recalled - shipped
