"""Installations: a cue list that recalls presets on time, a watchdog that restarts a stalled engine,
and a log file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.cli import main
from engine.errors import PresetError
from engine.models.loaders import save_generator
from engine.show.playlist import Playlist, parse_duration, read_playlist
from engine.show.presets import PresetFolders
from tests.conftest import ROOT
from tests.helpers import Collect, make_show, steps, tiny_pair


def write_presets(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "one.toml").write_text('[params]\n"blend.layer.0" = 1.0\n')
    (folder / "two.toml").write_text('[params]\n"blend.layer.0" = 0.25\n')


def test_durations():
    assert parse_duration("90s", "x").amount == 90 and parse_duration("5m", "x").amount == 300
    assert parse_duration("32 beats", "x").beats and parse_duration(2, "x").amount == 2
    with pytest.raises(PresetError, match="not a duration"):
        parse_duration("soon", "hold")


def test_a_cue_list_recalls_each_preset_after_its_hold_and_loops(tmp_path):
    show = make_show(tmp_path, [Collect()])
    write_presets(show.presets.folder)
    playlist = tmp_path / "night.toml"
    playlist.write_text('[playlist]\nhold = "1s"\n[[cue]]\npreset = "one"\n[[cue]]\npreset = "two"\nhold = "2s"\n')
    try:
        show.attach(Playlist(show, read_playlist(playlist, show.presets)))
        values = []
        for _ in range(60):                                        # 6 s at 10 fps
            steps(show, 1)
            values.append(show.registry.get("blend.layer.0"))
        assert values[0] == 1.0 and values[9] == 1.0               # cue one for 1 s
        assert values[10] == 0.25 and values[29] == 0.25           # cue two for 2 s
        assert values[30] == 1.0 and values[40] == 0.25            # and again
    finally:
        show.close()


def test_a_cue_list_in_beats_follows_the_tempo(tmp_path):
    show = make_show(tmp_path, [Collect()])
    write_presets(show.presets.folder)
    playlist = tmp_path / "beats.toml"
    playlist.write_text('[playlist]\nhold = "4 beats"\n[[cue]]\npreset = "one"\n[[cue]]\npreset = "two"\n')
    try:
        show.registry.set("tempo.bpm", 240.0)                      # 4 beats = 1 s
        steps(show, 1)
        show.attach(Playlist(show, read_playlist(playlist, show.presets)))
        steps(show, 11)
        assert show.registry.get("blend.layer.0") == 0.25
    finally:
        show.close()


def test_bad_playlists_fail_naming_the_problem(tmp_path):
    folders = PresetFolders(tmp_path, shipped=[])
    write_presets(tmp_path)
    bad = tmp_path / "bad.toml"
    for text, message in [('[[cue]]\npreset = "nope"\n', "no preset named 'nope'"),
                          ('[playlist]\nhold = "later"\n[[cue]]\npreset = "one"\n', "not a duration"),
                          ('[playlist]\norder = "random"\n[[cue]]\npreset = "one"\n', "sequence"),
                          ("[playlist]\n", "at least one"),
                          ('[[cue]]\npreset = "one"\nmorph = -1\n', "morph")]:
        bad.write_text(text)
        with pytest.raises(PresetError, match=message):
            read_playlist(bad, folders)


def test_a_bad_playlist_fails_before_any_model_loads(tmp_path, capsys):
    bad = tmp_path / "p.toml"
    bad.write_text('[[cue]]\npreset = "nope"\n')
    t0 = time.perf_counter()
    assert main(["run", "--playlist", str(bad), "--osc-port", "0", "--http-port", "0", "--device", "cpu",
                 "--sink", "null"]) == 2
    assert "no preset named 'nope'" in capsys.readouterr().err
    assert time.perf_counter() - t0 < 5


def test_the_log_file_gets_timestamped_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NETBLEND_HOME", str(tmp_path / "home"))          # no autosave from other tests
    log = tmp_path / "show.log"
    assert main(["run", "--log", str(log), "--seconds", "0.2", "--sink", "null", "--osc-port", "0", "--http-port", "0",
                 "--device", "cpu", "--autosave", "0", "--preset", "no-such-preset-xyz"]) == 2
    assert main(["run", "--log", str(log), "--seconds", "0.2", "--sink", "null", "--osc-port", "0", "--http-port", "0",
                 "--device", "cpu", "--autosave", "0", "--resume"]) == 0
    text = log.read_text()
    assert "nothing to resume" in text and text[:4].isdigit()        # "2026-..." timestamps
    capsys.readouterr()


@pytest.mark.slow
def test_the_watchdog_restarts_a_stalled_engine_with_resume(tmp_path):
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for G, p in zip(tiny_pair(seed=1), paths):
        save_generator(G, p)
    env = dict(os.environ, NETBLEND_HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", *map(str, paths), "--watchdog", "3", "--sink", "null",
         "--osc-port", "0", "--http-port", "0", "--device", "cpu", "--fps", "20", "--autosave", "0.5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = wait_for_child(tmp_path / "home", None)
        os.kill(first, signal.SIGSTOP)                               # the engine hangs (a dead driver, ...)
        second = wait_for_child(tmp_path / "home", first, timeout=60)
        assert second != first
        with open(f"/proc/{second}/cmdline", "rb") as f:
            assert b"--resume" in f.read().split(b"\0")
    finally:
        supervisor.send_signal(signal.SIGTERM)
        out, err = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 0
    assert "no frame for" in err and "restarting" in err


def wait_for_child(home, old_pid, timeout=120.0):
    """The pid written by the newest heartbeat of an engine other than ``old_pid``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for beat in home.glob("heartbeat-*"):
            try:
                pid = int(beat.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if pid != old_pid:
                return pid
        time.sleep(0.2)
    raise AssertionError("no engine heartbeat")
