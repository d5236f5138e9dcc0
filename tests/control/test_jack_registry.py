"""The test JACK servers keep JACK's registry usable: dead servers' slots are freed, live ones kept."""

from __future__ import annotations

import struct
import subprocess
import sys

from tests.jack_registry import HEADER, MAGIC, SLOTS, free_server_name, live_servers, reclaim_dead_servers

STRIDE = 264


def _registry(path, servers):
    """A registry file laid out as jack2 writes it, with ``servers`` = [(pid, name)] in the first slots."""
    data = bytearray(HEADER + SLOTS * STRIDE + 256 * 268)
    struct.pack_into("<IHHiiii", data, 0, MAGIC, 0, 0, 1, len(data), HEADER + SLOTS * STRIDE, 268)
    for i, (pid, name) in enumerate(servers):
        struct.pack_into("<i", data, HEADER + i * STRIDE, pid)
        prefix = f"jack-0:{name}:".encode()
        data[HEADER + i * STRIDE + 4:HEADER + i * STRIDE + 4 + len(prefix)] = prefix
    path.write_bytes(bytes(data))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_registry_full_of_dead_servers_gets_its_slots_back_and_live_ones_stay(tmp_path):
    path = tmp_path / "jack-shm-registry"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        dead = _dead_pid()
        _registry(path, [(dead, f"netblend-test-{i:08x}") for i in range(SLOTS - 1)] + [(live.pid, "studio")])
        assert live_servers(path) == ["studio"]
        tail = path.read_bytes()[HEADER + SLOTS * STRIDE:]

        freed = reclaim_dead_servers(path)

        assert len(freed) == SLOTS - 1 and "studio" not in freed
        assert live_servers(path) == ["studio"]
        data = path.read_bytes()
        assert data[HEADER + SLOTS * STRIDE:] == tail                      # segment table untouched
        assert all(struct.unpack_from("<i", data, HEADER + i * STRIDE)[0] == 0 for i in range(SLOTS - 1))
    finally:
        live.kill()
        live.wait()


def test_a_name_a_running_server_holds_is_skipped(tmp_path):
    path = tmp_path / "jack-shm-registry"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _registry(path, [(live.pid, "netblend-test-0"), (_dead_pid(), "netblend-test-1")])
        assert free_server_name("netblend-test", path=path) == ("netblend-test-1", "")
        _registry(path, [(live.pid, f"netblend-test-{i}") for i in range(4)])
        name, why = free_server_name("netblend-test", path=path)
        assert name is None and "netblend-test-3" in why
    finally:
        live.kill()
        live.wait()


def test_a_file_that_is_not_a_registry_is_left_alone(tmp_path):
    path = tmp_path / "jack-shm-registry"
    path.write_bytes(b"not jack" * 400)
    assert reclaim_dead_servers(path) == [] and live_servers(path) == []
    assert path.read_bytes() == b"not jack" * 400
    assert reclaim_dead_servers(tmp_path / "missing") == []
