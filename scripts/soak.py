"""Soak test: a real `netblend run` process for many minutes under OSC traffic, with a model swap every
minute; prints RSS, threads, open files and fps once per interval so leaks show as a trend.

    .venv/bin/python scripts/soak.py                 # 10 minutes, swap every 60 s
    .venv/bin/python scripts/soak.py --minutes 2 --swap-every 20

Not part of CI (it takes minutes). Linux only (reads /proc). The engine runs on the CPU on two small
generated model pairs; faders move at 60 Hz, presets naming the other pair are recalled over OSC.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KWARGS = dict(z_dim=64, w_dim=64, c_dim=0, img_resolution=64, img_channels=3, mapping_kwargs={"num_layers": 2},
              channel_base=1024, channel_max=64, architecture="skip", conv_clamp=256)


def make_pairs(folder: Path) -> list[list[Path]]:
    import torch

    from engine.models.build import build_generator
    from engine.models.loaders import save_generator

    pairs = []
    for k in range(2):
        gen = torch.Generator().manual_seed(k)
        shell = build_generator(KWARGS)
        paths = []
        for m in range(2):
            sd = {n: torch.randn(v.shape, generator=gen) * 0.5 if v.is_floating_point() and "filter" not in n else v
                  for n, v in shell.state_dict().items()}
            path = folder / f"pair{k}{'ab'[m]}.safetensors"
            save_generator(build_generator(KWARGS, sd), path)
            paths.append(path)
        pairs.append(paths)
    return pairs


def osc(address: str, *args) -> bytes:
    from pythonosc.osc_message_builder import build_msg

    return build_msg(address, *args).dgram


def proc_stats(pid: int) -> tuple[float, int, int]:
    """(RSS in MB, threads, open file descriptors) of a process."""
    with open(f"/proc/{pid}/statm") as f:
        rss_pages = int(f.read().split()[1])
    threads = len(os.listdir(f"/proc/{pid}/task"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, threads, fds


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--swap-every", type=float, default=60.0, help="seconds between model swaps")
    parser.add_argument("--report-every", type=float, default=60.0, help="seconds between table rows")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="netblend-soak-"))
    pairs = make_pairs(work)
    presets = work / "presets"
    presets.mkdir()
    for k, (a, b) in enumerate(pairs):
        text = f'[models]\na = "{a}"\nb = "{b}"\n[params]\n"latent.walk.mode" = "slerp"\n'
        (presets / f"pair{k}.toml").write_text(text)
    port, feedback_port = free_port(), free_port()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", feedback_port))
    listener.settimeout(0.2)
    env = dict(os.environ, NETBLEND_HOME=str(work / "home"))
    engine = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", *map(str, pairs[0]), "--sink", "null", "--device", "cpu",
         "--osc-port", str(port), "--osc-feedback", f"127.0.0.1:{feedback_port}", "--presets", str(presets),
         "--fps", "30", "--autosave", "5"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    fps = [0.0]
    stop = threading.Event()

    def listen() -> None:
        from pythonosc.osc_message import OscMessage

        while not stop.is_set():
            try:
                data = listener.recv(4096)
            except OSError:
                continue
            try:
                msg = OscMessage(data)
            except Exception:
                continue
            if msg.address == "/engine/fps":
                fps[0] = float(msg.params[0])

    threading.Thread(target=listen, daemon=True).start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    print(f"{'minute':>7}{'RSS MB':>9}{'threads':>9}{'fds':>6}{'fps':>7}{'swaps':>7}", flush=True)
    start = time.monotonic()
    next_swap, next_report, swaps, k = start + args.swap_every, start, 0, 0
    try:
        while time.monotonic() - start < args.minutes * 60:
            if engine.poll() is not None:
                print(f"the engine exited with {engine.returncode}: {engine.stderr.read()[-2000:]}")
                return 1
            t = time.monotonic() - start
            for i in range(8):
                sender.sendto(osc(f"/blend/layer/{i}", 0.5 + 0.5 * math.sin(t + i)), ("127.0.0.1", port))
            now = time.monotonic()
            if now >= next_swap:
                k = 1 - k
                sender.sendto(osc("/preset/recall", f"pair{k}"), ("127.0.0.1", port))
                swaps += 1
                next_swap = now + args.swap_every
            if now >= next_report:
                rss, threads, fds = proc_stats(engine.pid)
                print(f"{(now - start) / 60:>7.1f}{rss:>9.0f}{threads:>9}{fds:>6}{fps[0]:>7.1f}{swaps:>7}", flush=True)
                next_report = now + args.report_every
            time.sleep(1 / 60)
    finally:
        stop.set()
        engine.terminate()
        try:
            engine.wait(timeout=20)
        except subprocess.TimeoutExpired:
            engine.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
