"""Every kind of bad or hostile model file from the red-team run (issue 12) ends, from the user's side,
in exit status 2 and one ``netblend: error:`` line naming the file: for ``inspect`` and ``convert``
(which writes nothing), and as a one-line ``ModelLoadError`` from ``load_generator``."""

from __future__ import annotations

import os
import time

import pytest

from engine.cli import main
from engine.errors import ModelLoadError
from engine.models.loaders import load_generator
from tests.models.hostile_files import CASES, make_base

SECONDS = 5        # each case is refused well within this (bombs used to take minutes or never end)


@pytest.fixture(scope="module")
def base():
    return make_base()


@pytest.fixture
def bad_file(request, tmp_path, base):
    writer, words = CASES[request.param]
    path = writer(tmp_path, base)
    if str(path).startswith("/dev/") and not os.path.exists(path):
        pytest.skip(f"{path} does not exist on this system")
    return path, words


def _one_error_line(err: str, path, words) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("netblend: error: ") and "Traceback" not in err, err
    assert str(path) in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bad_file", sorted(CASES), indirect=True)
def test_inspect_refuses_with_one_line_naming_the_file(bad_file, capsys):
    path, words = bad_file
    start = time.perf_counter()
    assert main(["inspect", str(path)]) == 2
    assert time.perf_counter() - start < SECONDS
    _one_error_line(capsys.readouterr().err, path, words)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bad_file", sorted(CASES), indirect=True)
def test_convert_refuses_and_writes_nothing(bad_file, tmp_path, capsys):
    path, words = bad_file
    out = tmp_path / "out" / "converted.netblend.safetensors"
    assert main(["convert", str(path), "-o", str(out)]) == 2
    _one_error_line(capsys.readouterr().err, path, words)
    assert not out.parent.exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bad_file", ["fifo", "kwargs_list_dag", "w_dim_too_big_for_weights", "weights_all_nan"],
                         indirect=True)
def test_load_generator_raises_one_line_model_load_error(bad_file):
    path, words = bad_file
    with pytest.raises(ModelLoadError) as excinfo:
        load_generator(path)
    message = str(excinfo.value)
    assert "\n" not in message and str(path) in message and all(word in message for word in words)


def test_table_covers_the_reported_kinds():
    """The 27 kinds the issue lists, each present in the table (plus the bombs of item 4)."""
    reported = {"one_byte_x80", "long_path", "build_replaces_state", "kwargs_cycle", "kwargs_deep_nesting",
                "modules_deep_nesting", "kwargs_int_keys", "param_int_keys", "params_as_list",
                "img_resolution_string", "img_resolution_none", "img_resolution_huge",
                "img_resolution_object_array", "w_dim_zero", "channel_base_zero", "z_dim_negative",
                "img_channels_negative", "c_dim_huge", "native_header_deep_nesting", "native_shape_overflow",
                "native_z_dim_string", "native_img_resolution_infinity", "rosinality_missing_conv1",
                "rosinality_style_rank", "rosinality_conv_rank", "conv_clamp_string", "weights_all_nan",
                "kwargs_list_dag", "w_dim_too_big_for_weights", "mapping_layers_huge", "nested_stream_bomb",
                "rosinality_zip_bomb", "fifo", "native_overlapping_tensors", "native_shape_strings",
                "native_shape_floats", "native_unaligned_header"}
    assert reported <= set(CASES)
