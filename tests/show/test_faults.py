"""Faults a show must survive (issue 12): crash recovery, preset paths and sizes, unrenderable swaps,
a stalled render, huge or broken preset files, leftovers of a killed save."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest
import torch

from engine.cli import main
from engine.core.paths import user_dir
from engine.errors import PresetError
from engine.models.loaders import save_generator
from engine.show.preset_file import MAX_PRESET_BYTES, Preset, read_preset_file
from engine.show.presets import PresetManager
from engine.show.stats import FrameStats
from tests.helpers import Collect, make_show, steps, tiny_pair

COMMON = ["--seconds", "0.25", "--sink", "null", "--osc-port", "0", "--http-port", "0", "--device", "cpu"]


def saved_pair(folder, seed):
    paths = [folder / f"s{seed}a.safetensors", folder / f"s{seed}b.safetensors"]
    for G, p in zip(tiny_pair(seed=seed), paths):
        save_generator(G, p)
    return paths


def first_log_line(path):
    return json.loads(path.read_text().splitlines()[0])


def test_resume_restores_the_models_and_keyframes_of_the_crashed_show(tmp_path, capsys):
    paths = saved_pair(tmp_path, 1)
    preset = tmp_path / "keys.toml"
    preset.write_text('[params]\n"blend.layer.1" = 0.4\n[latent]\nkeyframes = [11, 12]\n')
    assert main(["run", *map(str, paths), "--preset", str(preset), "--autosave", "100", *COMMON]) == 0
    log = tmp_path / "controls.jsonl"
    assert main(["run", "--resume", "--autosave", "0", "--record-controls", str(log), *COMMON]) == 0
    start = first_log_line(log)
    assert start["models"] == [str(p) for p in paths]                # not the demo pair
    assert start["keyframes"] == [11, 12] and start["params"]["blend.layer.1"] == 0.4
    capsys.readouterr()


@pytest.mark.parametrize("content", [b"[params\n", b"\x80\x81\x82\x00binary", b"\xef\xbb\xbf[params]\n\"x\" = ",
                                     b""])
def test_an_unreadable_autosave_never_stops_start_up(tmp_path, capsys, caplog, content):
    user_dir().mkdir(parents=True, exist_ok=True)
    user_dir("autosave.toml").write_bytes(content)
    assert main(["run", "--resume", "--autosave", "0", *COMMON]) == 0
    assert "frames in" in capsys.readouterr().out                    # the show played
    if content:
        assert "autosave could not be read, starting fresh" in caplog.text


def test_a_bom_prefixed_preset_reads(tmp_path):
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[params]\n"blend.layer.0" = 0.5\n')
    assert Preset.read(path).params == {"blend.layer.0": 0.5}


def test_presets_are_read_only_from_regular_small_files(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    with pytest.raises(PresetError, match="not a regular file"):
        read_preset_file(fifo)                                       # never blocks on a FIFO
    with pytest.raises(PresetError, match="not a regular file"):
        read_preset_file("/dev/zero")                                # never reads a device
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_PRESET_BYTES + 1))
    with pytest.raises(PresetError, match="too big"):
        read_preset_file(big)
    assert time.perf_counter() - t0 < 1.0


def test_a_preset_with_huge_numbers_of_unknown_keys_logs_a_few_lines_and_leaves_osc_free(tmp_path, caplog):
    show = make_show(tmp_path, [Collect()])
    try:
        show.presets.folder.mkdir(parents=True, exist_ok=True)
        keys = "".join(f'"junk.{i}" = 1\n' for i in range(8000))
        (show.presets.folder / "junk.toml").write_text("[params]\n" + keys + '"blend.layer.0" = 0.5\n')
        t0 = time.perf_counter()
        show.actions.recall_preset("junk")                           # the control thread returns at once
        assert time.perf_counter() - t0 < 0.05
        assert show.worker.wait_idle()
        steps(show, 1)
        assert show.registry.get("blend.layer.0") == 0.5
        lines = [r for r in caplog.records if "junk" in r.getMessage()]
        assert len(lines) <= 6 and "more problems" in lines[-1].getMessage()
    finally:
        show.close()


def test_save_and_recall_accept_the_toml_suffix_and_files_follow_the_umask(tmp_path):
    show = make_show(tmp_path, [Collect()])
    try:
        show.registry.set("blend.layer.2", 0.3)
        path = show.presets.save("x.toml")
        assert path.name == "x.toml"
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
        show.registry.set("blend.layer.2", 0.0)
        show.actions.recall_preset("x.toml")
        assert show.worker.wait_idle()
        steps(show, 1)
        assert show.registry.get("blend.layer.2") == 0.3
    finally:
        show.close()


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_temp_files_of_a_killed_save_are_cleaned_at_start(tmp_path):
    folder = tmp_path / "presets"
    folder.mkdir()
    old, fresh = folder / ".dusk.toml.abc.tmp", folder / ".dusk.toml.def.tmp"
    old.write_text("half")
    fresh.write_text("half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    PresetManager(folder, make_registry())
    assert not old.exists() and fresh.exists()                      # a save in progress is left alone


def make_registry():
    from engine.core.params import ParamRegistry

    return ParamRegistry()


def test_a_swap_to_models_that_render_nan_keeps_the_current_models(tmp_path):
    a, b = tiny_pair(seed=2)
    bad_sd = {k: torch.full_like(v, float("nan")) if v.is_floating_point() and "filter" not in k else v
              for k, v in b.state_dict().items()}
    from engine.models.build import build_generator
    from tests.helpers import TINY

    paths = [tmp_path / "good.safetensors", tmp_path / "nan.safetensors"]
    save_generator(a, paths[0])
    save_generator(build_generator(TINY, bad_sd), paths[1])
    show = make_show(tmp_path, [Collect()])
    try:
        show.registry.set("blend.layer.3", 1.0)
        before = show.renderer
        show.swap_models(paths)
        assert show.swapper.wait_idle(30)
        steps(show, 2)
        assert show.renderer is before
        assert any("nan.safetensors" in e or "non-finite" in e or "NaN" in e for e in show.swapper.errors)
    finally:
        show.close()


def test_reported_fps_is_none_before_the_first_frame_and_zero_once_frames_stop():
    stats = FrameStats()
    assert stats.fps_at(0.0) is None
    for i in range(30):
        stats.record(0.01, i / 30)
    assert stats.fps_at(1.0) == pytest.approx(30.0)
    assert stats.fps_at(3.0) == 0.0                                  # a render that stalled


def test_a_show_whose_render_fails_reports_zero_fps(tmp_path):
    show = make_show(tmp_path, [Collect()])
    try:
        steps(show, 10)
        show.renderer.render = lambda *a: (_ for _ in ()).throw(RuntimeError("device lost"))
        steps(show, 30)                                              # 3 s on the fake clock, nothing renders
        assert show.loop.stats.fps_at(show.clock.now()) == 0.0
    finally:
        show.close()


def test_nothing_the_engine_writes_lands_in_the_checkout(tmp_path):
    """`netblend run` with no NETBLEND_HOME writes its autosave, snapshots and learned bindings to the
    user's data folder (here a fake HOME), never the project folder."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    def status():
        out = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True,
                             text=True)
        return set(out.stdout.splitlines()) if out.returncode == 0 else None

    before = status()
    if before is None:
        pytest.skip("not a git checkout")
    env = {k: v for k, v in os.environ.items() if k not in ("NETBLEND_HOME", "NETBLEND_PRESETS", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path / "home")
    code = ("import sys; from engine.cli import main; "
            "sys.exit(main(['run', '--seconds', '0.3', '--sink', 'null', '--osc-port', '0', '--http-port', '0', "
            "'--device', 'cpu', "
            "'--autosave', '0.1']))")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, timeout=240)
    assert (tmp_path / "home" / ".local" / "share" / "netblend" / "autosave.toml").exists()
    new = {line for line in status() - before if ".pytest_cache" not in line and "__pycache__" not in line}
    assert new == set()


def test_errors_that_need_no_model_come_before_any_model_loads(tmp_path, capsys):
    """A busy OSC port, a mask typo, a missing photo: one line, in well under a model's load time."""
    import socket

    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    missing = str(tmp_path / "absent.pkl")
    try:
        for argv, message in [
            (["run", "--osc-port", str(busy.getsockname()[1]), "--sink", "null", "--device", "cpu"], "OSC port"),
            (["blend", missing, missing, "--mask", "crosover@32", "-o", str(tmp_path / "o.safetensors")],
             "not understood"),
            (["project", str(tmp_path / "me.jpg"), "--model", missing, "-o", str(tmp_path / "me.npz")],
             "no such photo"),
        ]:
            start = time.perf_counter()
            assert main(argv) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and message in err[0], err
            assert time.perf_counter() - start < 3.0
    finally:
        busy.close()
