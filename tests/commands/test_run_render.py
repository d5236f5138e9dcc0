"""`netblend run` and `netblend render` end to end on the built-in demo pair."""

import json

import av
import numpy as np
import pytest

from engine.cli import main


def decode(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.slow
def test_render_writes_exactly_seconds_times_fps_frames_identical_across_runs(tmp_path, capsys):
    outs = []
    for k in range(2):
        out = tmp_path / f"r{k}.mp4"
        assert main(["render", "--seconds", "1", "--fps", "4", "-o", str(out), "--device", "cpu", "--quiet",
                     "--preset", "interpolate-50-slerp"]) == 0
        outs.append(decode(out))
    assert len(outs[0]) == 4 == len(outs[1])
    assert all(np.array_equal(a, b) for a, b in zip(*outs))
    assert not np.array_equal(outs[0][0], outs[0][3])          # the slerp walk moves
    assert outs[0][0].std() > 10                                # a picture, not a flat field
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
def test_run_prints_one_summary_line_and_records_controls_that_render_replays(tmp_path, capsys):
    log = tmp_path / "controls.jsonl"
    video = tmp_path / "live.mp4"
    assert main(["run", "--seconds", "0.5", "--fps", "8", "--sink", "null", f"--sink=record:{video}",
                 "--osc-port", "0", "--http-port", "0", "--autosave", "0", "--device", "cpu",
                 "--record-controls", str(log),
                 "--presets", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("netblend: ") and "frames in" in out[0] and "fps" in out[0]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[0]["event"] == "init" and events[0]["params"]["latent.walk.mode"] == 2   # the demo's slerp
    assert video.exists() and len(decode(video)) >= 1
    replayed = tmp_path / "replay.mp4"
    assert main(["render", "--controls", str(log), "--seconds", "0.5", "--fps", "4", "-o", str(replayed),
                 "--device", "cpu", "--quiet"]) == 0
    frames = decode(replayed)
    assert len(frames) == 2 and not np.array_equal(frames[0], frames[1])


def test_start_up_errors_are_one_line_with_the_fix(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.pkl"), "--device", "cpu", "--osc-port", "0", "--http-port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.pkl" in err[0] and err[0].startswith("netblend: error:")
    assert main(["run", "--sink", "hologram", "--device", "cpu", "--osc-port", "0", "--http-port", "0"]) == 2
    assert "unknown output 'hologram'" in capsys.readouterr().err
    assert main(["render", "--seconds", "1", "-o", str(tmp_path / "x.mp4"), "--controls",
                 str(tmp_path / "nope.jsonl")]) == 2
    assert "control log" in capsys.readouterr().err


def test_run_autosaves_on_exit_and_resume_restores_it(tmp_path, capsys):
    import shutil

    from tests.conftest import ROOT

    shutil.copy(ROOT / "presets" / "crossover-32px.toml", tmp_path)
    common = ["--seconds", "0.3", "--sink", "null", "--osc-port", "0", "--http-port", "0", "--device", "cpu",
              "--presets", str(tmp_path)]
    from engine.core.paths import user_dir

    assert main(["run", "--preset", "crossover-32px", "--autosave", "100", *common]) == 0
    saved = user_dir("autosave.toml").read_text()                  # the user folder, never the checkout
    assert '"blend.curve.amount" = 1.0' in saved and '"blend.curve.width" = 0.0' in saved
    log = tmp_path / "controls.jsonl"
    assert main(["run", "--resume", "--autosave", "0", "--record-controls", str(log), *common]) == 0
    first = json.loads(log.read_text().splitlines()[0])["params"]
    assert first["blend.curve.amount"] == 1.0 and first["blend.curve.width"] == 0.0
    capsys.readouterr()


def test_bad_outputs_and_mappings_fail_before_anything_renders(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[midi]]\ncontrol = "cc"\nnumber = 300\nparam = "blend.layer.0"\n')
    assert main(["run", "--mapping", str(bad), "--osc-port", "0", "--http-port", "0", "--device", "cpu"]) == 2
    assert "number = 300" in capsys.readouterr().err
    assert main(["render", "--seconds", "1", "-o", str(tmp_path / "x.avi"), "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("netblend: error: record ")
    assert "x.avi: unknown video type '.avi'" in err[0]
    assert "name the file x.mp4 (or .mov, .mkv, .webm)" in err[0]



@pytest.mark.slow
def test_two_processes_render_the_demo_to_the_same_frames(tmp_path):
    """Separate processes (one limited to a single thread, one free to pick its thread count) write the
    same pictures: the demo is built from its own seeded recipe and a render keeps several threads only
    when they give exactly one thread's pixels."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    outs = []
    for k, threads in enumerate(("1", None)):
        env = {key: v for key, v in os.environ.items() if key != "OMP_NUM_THREADS"}
        if threads:
            env["OMP_NUM_THREADS"] = threads
        out = tmp_path / f"demo{k}.mp4"
        subprocess.run([sys.executable, "-m", "engine", "render", "--seconds", "0.5", "--fps", "6", "-o", str(out),
                        "--device", "cpu", "--quiet"], cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=300)
        outs.append(decode(out))
    assert len(outs[0]) == len(outs[1]) == 3
    assert all(np.array_equal(a, b) for a, b in zip(*outs))
    assert not np.array_equal(outs[0][0], outs[0][2])          # the demo walk moves
