"""Seeded fuzzing of the loaders: mutated oracle pickles, tiny pickles and netblend files either load (and
then render or are refused by ``check_renders``) or raise ``ModelLoadError``; never another exception,
never a hang, and never any code from the file (mutations splice in calls that would create a marker)."""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import random
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import ModelLoadError
from engine.models.checks import check_renders
from engine.models.loaders import load_generator
from engine.models.loaders.native import save_native
from tests.models.hostile_files import make_base
from tests.models.official_pickle import write_official_pickle

SEED = 20240612
SECONDS_EACH = 20.0        # a hang, not a slow machine: valid files load in well under a second
ROUNDS = 30                # mutations per tiny file (the two oracle pickles get ORACLE_ROUNDS each)
ORACLE_ROUNDS = 3
INTERESTING_OPCODES = b"]})(tRbsaeu.0hqNK\x85\x86\x87\x88\x89\x8c\x8a\x93\x94\x95"
EXTREME_INTS = (0, 1, 255, 2 ** 15 - 1, 2 ** 31 - 1, -1, -(2 ** 31))


class _Call:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def payloads(marker: Path) -> list[bytes]:
    """Pickle opcodes (no PROTO, no STOP) that would create ``marker`` if anything ran them."""
    calls = [_Call(os.system, f"touch {marker}"), _Call(exec, f"open({str(marker)!r}, 'w')"),
             _Call(eval, f"open({str(marker)!r}, 'w')"), _Call(subprocess.call, ["touch", str(marker)])]
    out = []
    for call in calls:
        for protocol in (2, 4):
            raw = pickle.dumps(call, protocol=protocol)
            start = 2 if raw[:1] == b"\x80" else 0
            if raw[start:start + 1] == b"\x95":                              # protocol 4 FRAME header
                start += 9
            out.append(raw[start:-1])
    return out


def opcode_positions(raw: bytes) -> list[tuple[int, str, int]]:
    """(position, opcode name, encoded length) of every opcode of a pickle."""
    ops = list(pickletools.genops(raw))
    ends = [pos for _, _, pos in ops[1:]] + [len(raw)]
    return [(pos, op.name, end - pos) for (op, _, pos), end in zip(ops, ends)]


def mutate_pickle(raw: bytes, ops: list[tuple[int, str, int]], rng: random.Random,
                  hostile: list[bytes]) -> tuple[str, bytes]:
    """One random mutation of a pickle, named by its operator."""
    kind = rng.choice(["bits", "opcode", "truncate", "duplicate", "delete", "splice", "integer"])
    data = bytearray(raw)
    if kind == "bits":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "opcode":
        pos, _, _ = rng.choice(ops)
        data[pos] = rng.choice(INTERESTING_OPCODES)
    elif kind == "truncate":
        del data[rng.randrange(1, len(data)):]
    elif kind in ("duplicate", "delete"):
        (a, _, _), (b, _, _) = sorted(rng.sample(ops, 2))
        b = min(b, a + 4096)
        if kind == "duplicate":
            data[b:b] = data[a:b]
        else:
            del data[a:b]
    elif kind == "splice":
        pos, _, _ = rng.choice(ops)
        data[pos:pos] = rng.choice(hostile)
    else:
        candidates = [(p, n, length) for p, n, length in ops if n in ("BININT1", "BININT2", "BININT")]
        pos, name, length = rng.choice(candidates)
        value = rng.choice(EXTREME_INTS)
        width = {"BININT1": 1, "BININT2": 2, "BININT": 4}[name]
        fmt = {"BININT1": "<B", "BININT2": "<H", "BININT": "<i"}[name]
        value = value % (1 << (8 * width)) if width < 4 else max(-(2 ** 31), min(2 ** 31 - 1, value))
        data[pos + 1:pos + 1 + width] = struct.pack(fmt, value)
    return kind, bytes(data)


def mutate_native(raw: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of a netblend file: its JSON header or its tensor bytes."""
    (length,) = struct.unpack("<Q", raw[:8])
    header, data = bytearray(raw[8:8 + length]), bytearray(raw[8 + length:])
    kind = rng.choice(["digit", "punctuation", "header_bits", "value", "length", "kwarg"])
    if kind == "digit":
        digits = [i for i, c in enumerate(header) if chr(c).isdigit()]
        for i in rng.sample(digits, rng.randint(1, 4)):
            header[i] = ord(rng.choice("0123456789"))
    elif kind == "punctuation":
        marks = [i for i, c in enumerate(header) if chr(c) in '[]{}:,"']
        header[rng.choice(marks)] = ord(rng.choice('[]{}:,"0 '))
    elif kind == "header_bits":
        header[rng.randrange(len(header))] ^= 1 << rng.randrange(8)
    elif kind == "value":
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(0, len(data) - 4, 4)
            data[pos:pos + 4] = struct.pack("<f", rng.choice([float("nan"), float("inf"), -float("inf"), 3e38,
                                                              1e-45, 0.0]))
    elif kind == "length":
        return kind, struct.pack("<Q", rng.choice([length - 8, length + 8, 0, 2 ** 63])) + raw[8:]
    else:
        text = header.decode("utf-8", "replace")
        key = rng.choice(["z_dim", "w_dim", "c_dim", "img_resolution", "channel_base", "num_layers", "conv_clamp"])
        value = rng.choice(['"16"', "-1", "0", "1e309", "null", "[]", "{}", "true", "99999999999", "4.5"])
        text = text.replace(f'\\"{key}\\": ', f'\\"{key}\\": {value}, \\"_{key}\\": ', 1)
        header = bytearray(text.encode())
        header += b" " * (-(8 + len(header)) % 8)
        return kind, struct.pack("<Q", len(header)) + bytes(header) + bytes(data)
    return kind, raw[:8] + bytes(header) + bytes(data)


def _outcome(path: Path) -> str:
    """'refused', 'loaded' or 'unrenderable'; anything else propagates and fails the test."""
    try:
        G = load_generator(path, cache=False)
    except ModelLoadError as e:
        assert "\n" not in str(e) and str(path) in str(e), str(e)
        return "refused"
    try:
        check_renders(G, "cpu", name=str(path))
    except ModelLoadError as e:
        assert "\n" not in str(e) and str(path) in str(e), str(e)
        return "unrenderable"
    return "loaded"


def _fuzz(sources: dict[str, tuple[bytes, Callable]], rounds: int, folder: Path, marker: Path) -> dict[str, int]:
    rng = random.Random(SEED)
    counts: dict[str, int] = {}
    for name, (raw, _) in sources.items():                       # warm up: one-time costs are not a hang
        (folder / name).write_bytes(raw)
        assert _outcome(folder / name) == "loaded", name
    for round_index in range(rounds):
        for name, (raw, mutate) in sources.items():
            kind, mutated = mutate(raw, rng)
            path = folder / f"{name}-{round_index}-{kind}"
            path.write_bytes(mutated)
            start = time.perf_counter()
            try:
                outcome = _outcome(path)
            except Exception as e:                               # report the case that broke the rule
                raise AssertionError(f"{path.name}: {type(e).__name__}: {e}") from e
            assert time.perf_counter() - start < SECONDS_EACH, path.name
            counts[outcome] = counts.get(outcome, 0) + 1
            path.unlink()
    assert not marker.exists(), "code from a mutated file ran"
    return counts


@pytest.mark.timeout(120)
def test_mutated_files_load_or_are_refused_and_run_nothing(oracle, tmp_path):
    marker = tmp_path / "marker"
    hostile = payloads(marker)
    base = make_base()
    tiny2 = write_official_pickle(tmp_path / "tiny2.pkl", base.sg2_kwargs, base.sg2, numpy1=True).read_bytes()
    tiny4 = write_official_pickle(tmp_path / "tiny4.pkl", base.sg3_kwargs, base.sg3).read_bytes()
    from engine.models.build import build_generator

    flat = build_generator(base.sg2_kwargs).init_kwargs
    native = save_native(tmp_path / "tiny.netblend.safetensors", base.sg2, flat, "stylegan2").read_bytes()
    assert json.loads(native[8:8 + struct.unpack("<Q", native[:8])[0]])["__metadata__"]["format"] == "netblend"

    def pickles(raw: bytes) -> tuple[bytes, Callable]:
        ops = opcode_positions(raw)
        return raw, lambda data, rng: mutate_pickle(data, ops, rng, hostile)

    sources = {"tiny_sg2_p2": pickles(tiny2), "tiny_sg3_p4": pickles(tiny4),
               "tiny_native": (native, mutate_native)}
    counts = _fuzz(sources, ROUNDS, tmp_path, marker)
    oracle_sources = {name: pickles((oracle / f"{name}.pkl").read_bytes()) for name in ("sg2_64_A", "sg3t_64_A")}
    counts_oracle = _fuzz(oracle_sources, ORACLE_ROUNDS, tmp_path, marker)
    total = {k: counts.get(k, 0) + counts_oracle.get(k, 0) for k in {*counts, *counts_oracle}}
    assert sum(total.values()) == 3 * ROUNDS + 2 * ORACLE_ROUNDS
    assert total.get("refused", 0) > 20 and total.get("loaded", 0) > 5, total   # both paths exercised
