"""Run by tests/sinks/test_snapshot.py in its own process: a snapshot sink and a recording hit a real
write limit (RLIMIT_FSIZE: the kernel refuses to grow a file past it, as a full disk does), then the
limit is lifted. Writes what happened as JSON to argv[2]; argv[1] is the output folder."""

import json
import logging
import resource
import signal
import sys
from pathlib import Path

import torch

from engine.sinks.base import Frame, SinkError
from engine.sinks.record import RecordSink
from engine.sinks.snapshot import SnapshotSink

LIMIT = 16 * 1024


def noise(i: int, h: int = 96, w: int = 128) -> Frame:
    gen = torch.Generator().manual_seed(i)
    px = torch.randint(0, 256, (h, w, 4), dtype=torch.uint8, generator=gen)   # incompressible
    px[..., 3] = 255
    return Frame(px, i, i / 30)


def main(folder: Path, out: Path) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # report EFBIG instead of killing the process
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    result = {}
    shots = SnapshotSink(folder / "shots", rate=0).open(128, 96)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))
    shots.request()
    shots.send(noise(1))
    shots.wait_idle(10)
    result["full"] = {"lost": shots.lost, "written": len(shots.written), "failure": shots.failure,
                      "files": sorted(p.name for p in (folder / "shots").iterdir())}
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # the disk has room again
    shots.request()
    shots.send(noise(2))
    try:
        shots.close()
        result["close"] = None
    except SinkError as e:
        result["close"] = str(e)
    result["after"] = {"written": [p.name for p in shots.written],
                       "files": sorted(p.name for p in (folder / "shots").iterdir()),
                       "sizes": [p.stat().st_size for p in (folder / "shots").iterdir()]}

    video = folder / "show.mp4"
    record = RecordSink(video, fps=30, block=True).open(128, 96)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 * LIMIT, hard))
    error = None
    try:
        for i in range(120):
            record.send(noise(i))
        record.close()
    except SinkError as e:
        error = str(e)
        record.close()
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    result["record"] = {"error": error, "failure": record.failure, "frames": record.frames,
                        "files": sorted(p.name for p in folder.iterdir() if p.is_file())}
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
