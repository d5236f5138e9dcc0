"""The command line as a user meets it: --version, "did you mean" for commands and options, values
that start with a minus, output options checked before anything loads."""

from __future__ import annotations

import pytest
import torch

import engine
from engine.cli import join_negative_lists, main


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("netblend 0.")


def test_an_unknown_command_suggests_the_one_meant(capsys):
    assert main(["rnu", "--seconds", "1"]) == 2
    err = one_line_error(capsys)
    assert "unknown command 'rnu'" in err and "did you mean 'run'?" in err
    assert main(["xyzzy"]) == 2
    assert "did you mean" not in one_line_error(capsys)


def test_an_unknown_option_suggests_the_one_meant(capsys):
    with pytest.raises(SystemExit) as done:
        main(["osc", "--fromat", "json"])
    assert done.value.code == 2
    assert "unrecognized arguments: --fromat json; did you mean --format?" in capsys.readouterr().err


def test_a_negative_weight_list_is_a_value(saved, tmp_path):
    assert join_negative_lists(["blend", "--weights", "-0.5,1.5", "-o", "x"]) == ["blend", "--weights=-0.5,1.5",
                                                                                   "-o", "x"]
    assert join_negative_lists(["run", "--seconds", "-1", "--", "--x", "-1,2"])[-2:] == ["--x", "-1,2"]
    out = tmp_path / "away.netblend.safetensors"
    assert main(["blend", saved["sg2_64_A"], saved["sg2_64_B"], "--weights", "-0.5,1.5", "--free", "-o", str(out)]) == 0
    A, B = (engine.load_generator(saved[n]) for n in ("sg2_64_A", "sg2_64_B"))
    key = "synthesis.b16.conv1.weight"
    expected = -0.5 * A.state_dict()[key] + 1.5 * B.state_dict()[key]
    assert torch.allclose(engine.load_generator(out).state_dict()[key], expected, atol=1e-5)


@pytest.mark.parametrize("spec, needles", [
    ("snapshot:shots,every=abc", ["every='abc' is not a whole number"]),
    ("record:show.mp4,frames=3", ["record has no option 'frames'", "it takes fps, crf, codec, block"]),
    ("record:show.mp4,fsp=30", ["did you mean 'fps'?"]),
    ("null,readback=maybe", ["write readback=1 or readback=0"]),
])
def test_sink_options_are_checked_before_any_model_loads(capsys, spec, needles):
    assert main(["run", "--sink", spec, "--seconds", "1", "--osc-port", "0", "--http-port", "0"]) == 2
    err = one_line_error(capsys)
    for needle in needles:
        assert needle in err


def test_convert_output_names_carry_the_format(tmp_path, capsys):
    from engine.commands.convert import default_output, native_output

    assert native_output(str(tmp_path / "face")).name == "face.netblend.safetensors"
    assert native_output(str(tmp_path / "face.netblend")).name == "face.netblend.safetensors"
    assert native_output(str(tmp_path / "face.safetensors")).name == "face.safetensors"
    assert default_output(tmp_path / "ffhq.v2.pkl").name == "ffhq.v2.netblend.safetensors"
    assert main(["convert", str(tmp_path / "face.pkl"), "-o", str(tmp_path / "face.pt")]) == 2
    err = one_line_error(capsys)
    assert "-o" in err and ".netblend.safetensors" in err and "face.pt" in err
