"""JACK's server registry, kept usable across test runs.

jackd records every running server in one shared file, ``/dev/shm/jack-shm-registry``, which has room
for 8 servers. A server that exits cleanly frees its slot; one that is killed (a CI job cancelled, a
machine's sandbox stopped) leaves it behind, and jackd only ever reclaims a dead slot for a new server
*of the same name*. Test servers under fresh random names therefore filled the registry after eight
unclean ends, and from then on every ``jackd`` failed ("Too many servers already active"), on this
machine and on CI alike.

So the test servers take their names from small fixed pools, and before starting one the tests free
the slots whose process no longer exists, which is what jackd itself does for its own name. Slots of
live servers (the user's own JACK, another test run) are never touched.

Layout (jack2's ``shm.h``): a 24-byte header (magic ``JACK``, protocol, type, size, header length, entry
length), then 8 server slots of ``(hdr_len - 24) / 8`` bytes each: a pid (int32) and the server's
prefix ``jack-<uid>:<name>:``. A file that does not look like that is left alone.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

REGISTRY = Path("/dev/shm/jack-shm-registry")
MAGIC = 0x4A41434B          # "JACK"
HEADER = 24
SLOTS = 8


def _slots(data: bytes) -> tuple[int, list[tuple[int, int, str]]] | None:
    """(slot size, [(offset, pid, server name) for each slot]), or None if ``data`` is not a registry
    we know."""
    if len(data) < HEADER or struct.unpack_from("<I", data, 0)[0] != MAGIC:
        return None
    hdr_len = struct.unpack_from("<i", data, 16)[0]
    stride, rest = divmod(hdr_len - HEADER, SLOTS)
    if rest or stride < 8 or hdr_len > len(data):
        return None
    slots = []
    for i in range(SLOTS):
        offset = HEADER + i * stride
        pid = struct.unpack_from("<i", data, offset)[0]
        prefix = data[offset + 4:offset + stride].split(b"\0", 1)[0].decode(errors="replace")
        parts = prefix.split(":")
        slots.append((offset, pid, parts[1] if len(parts) >= 2 else prefix))
    return stride, slots


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # someone else's process: alive
        return True
    return True


def live_servers(path: Path = REGISTRY) -> list[str]:
    """Names of the servers in the registry whose process is running."""
    try:
        parsed = _slots(path.read_bytes())
    except OSError:
        return []
    return [name for _, pid, name in (parsed[1] if parsed else ()) if pid and _alive(pid)]


def reclaim_dead_servers(path: Path = REGISTRY) -> list[str]:
    """Free the slots of servers whose process is gone; returns their names."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    parsed = _slots(data)
    if parsed is None:
        return []
    stride, slots = parsed
    freed = []
    try:
        with path.open("r+b") as f:
            for offset, pid, name in slots:
                if pid and not _alive(pid):
                    f.seek(offset)
                    f.write(bytes(stride))
                    freed.append(name)
    except OSError:                     # not ours to write: jackd reports the full registry itself
        return []
    return freed


def free_server_name(prefix: str, pool: int = 4, path: Path = REGISTRY) -> tuple[str | None, str]:
    """The first ``<prefix>-<i>`` no live server uses, after reclaiming dead slots; or (None, why)."""
    reclaim_dead_servers(path)
    live = live_servers(path)
    for i in range(pool):
        name = f"{prefix}-{i}"
        if name not in live:
            return name, ""
    return None, f"all {pool} test JACK server names are in use by running servers ({', '.join(live)})"


def registry_full_hint(path: Path = REGISTRY) -> str:
    """A note for a jackd that failed to start while the registry holds 8 live servers."""
    live = live_servers(path)
    if len(live) >= SLOTS:
        return f"; JACK's registry is full ({SLOTS} running servers: {', '.join(live)}): stop one"
    return ""
