"""The built-in demo pair: the same weights and frames in every process, cached like a converted
model, and a bad cache is rebuilt, never fatal."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import torch

from engine.models import demo
from engine.models.loaders import native
from tests.conftest import ROOT

# Prints: A digest, B digest, a frame digest (A and a half-way blend, seed 0, psi 0.7), whether the
# recipe ran in this process. torch's global RNG is seeded differently in each process on purpose, and
# the recipe runs under different thread counts; the frames render on one thread (their last bits may
# depend on the thread count, the recipe's must not).
PROCESS = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(int(sys.argv[1]))
torch.rand(int(sys.argv[1]))
from engine.blend.generator import BlendedGenerator
from engine.latents.seeds import seed_to_z
from engine.models import demo
A, B = demo.demo_pair("cpu")
a, b = demo.cached_demo_state_dicts()
torch.set_num_threads(1)
G = BlendedGenerator([A, B])
G.set_blend(layers={i: 0.5 for i in range(len(G.layers))})
z = seed_to_z(0, A.z_dim)
with torch.inference_mode():
    frames = torch.cat([A(z, truncation_psi=0.7), G(z, truncation_psi=0.7)])
frame = hashlib.sha256(frames.contiguous().numpy().tobytes()).hexdigest()
print(demo.state_dict_digest(a), demo.state_dict_digest(b), frame, demo.demo_state_dicts.cache_info().misses)
"""


def _start(cache, seed: int, threads: int = 1) -> subprocess.Popen:
    env = {**os.environ, "NETBLEND_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", PROCESS, str(seed), str(threads)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _result(process: subprocess.Popen) -> list[str]:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    return out.split()


@pytest.mark.slow
def test_two_processes_build_bit_identical_demos_and_frames_and_a_third_reads_them_from_the_cache(tmp_path):
    first, second = _start(tmp_path / "one", 1, 1), _start(tmp_path / "two", 987, 2)  # both cold, side by side
    one, two = _result(first), _result(second)
    assert one[3] == two[3] == "1"                        # each ran the recipe itself
    assert one[:3] == two[:3]                             # same A, same B, same frames, to the bit
    cached = _result(_start(tmp_path / "one", 5))
    assert cached[3] == "0"                               # read from the cache, recipe not run
    assert cached[:3] == one[:3]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETBLEND_CACHE", str(tmp_path))
    return tmp_path / "demo"


def _files(key: str):
    return demo._cache_files(key)


def test_the_recipe_leaves_torch_global_rng_and_thread_count_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    demo.build_demo_state_dicts()
    assert torch.equal(torch.rand(4), expected)
    assert torch.get_num_threads() == threads


def test_first_call_writes_the_cache_in_the_netblend_format_and_later_calls_read_it(cache):
    a, b = demo.cached_demo_state_dicts()
    key = demo.demo_recipe_key()
    a_path, b_path, index_path = _files(key)
    assert a_path.parent == cache and a_path.exists() and b_path.exists()
    stored = native.read_native(a_path)
    assert stored.family == "stylegan2" and stored.init_kwargs["channel_base"] == demo.DEMO_KWARGS["channel_base"]
    assert json.loads(index_path.read_text())["digests"] == [demo.state_dict_digest(a), demo.state_dict_digest(b)]
    again = demo.cached_demo_state_dicts()
    assert again[0] is not a                                # came from the files, not the in-process copy
    assert demo.state_dict_digest(again[0]) == demo.state_dict_digest(a)
    A, B = demo.demo_pair("cpu")
    assert A.impl == "fast" and A.layers is not None
    assert A.synthesis.b4.const.data_ptr() != again[0]["synthesis.b4.const"].data_ptr()   # weights copied


@pytest.mark.parametrize("damage", ["truncated", "flipped bytes", "garbage index", "missing B"])
def test_a_damaged_cache_is_rebuilt_with_a_warning(cache, damage, caplog):
    a, b = demo.cached_demo_state_dicts()
    a_path, b_path, index_path = _files(demo.demo_recipe_key())
    if damage == "truncated":
        a_path.write_bytes(a_path.read_bytes()[:1000])
    elif damage == "flipped bytes":
        data = bytearray(b_path.read_bytes())
        data[-64:] = bytes(255 - x for x in data[-64:])
        b_path.write_bytes(bytes(data))
    elif damage == "garbage index":
        index_path.write_text("{not json")
    else:
        b_path.unlink()
    with caplog.at_level(logging.WARNING, logger="engine.models.demo"):
        again = demo.cached_demo_state_dicts()
    assert "building it again" in caplog.text
    assert [demo.state_dict_digest(s) for s in again] == [demo.state_dict_digest(a), demo.state_dict_digest(b)]
    assert demo._read_cache(demo.demo_recipe_key()) is not None     # rewritten whole


def test_a_recipe_change_invalidates_the_cache_and_removes_the_stale_files(cache, monkeypatch):
    demo.cached_demo_state_dicts()
    old = demo.demo_recipe_key()
    monkeypatch.setattr(demo, "DEMO_RECIPE_VERSION", demo.DEMO_RECIPE_VERSION + 100)
    new = demo.demo_recipe_key()
    assert new != old
    assert demo._read_cache(new) is None
    demo.cached_demo_state_dicts()
    assert all(path.exists() for path in _files(new))
    assert not any(path.exists() for path in _files(old))


def test_an_unwritable_cache_folder_is_not_fatal(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("NETBLEND_CACHE", str(blocker))
    with caplog.at_level(logging.WARNING, logger="engine.models.demo"):
        A, B = demo.demo_pair("cpu")
    assert "could not cache the demo pair" in caplog.text
    assert A.num_ws == B.num_ws == len(A.layers)
