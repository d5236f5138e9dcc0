"""How many one-float OSC datagrams the server applies at a given send rate (sender in another process).

    .venv/bin/python scripts/osc_rate.py [RATE ...]      # default 5000 10000 20000 datagrams per second
"""

import subprocess
import sys
import time

from engine.control.osc import OscAdapter
from engine.control.osc_server import OscServer, OscServerConfig
from engine.core.params import ParamRegistry, ParamSpec

SENDER = """
import socket, sys, time
from pythonosc.osc_message_builder import build_msg
port, rate, n = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
msgs = [build_msg(f"/blend/layer/{i % 18}", (i % 1000) / 1000).dgram for i in range(1000)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.perf_counter()
for i in range(n):
    while time.perf_counter() - t0 < i / rate:
        pass
    s.sendto(msgs[i % 1000], ("127.0.0.1", port))
print(n / (time.perf_counter() - t0))
"""


def main(rates: list[int]) -> None:
    for rate in rates:
        registry = ParamRegistry()
        registry.add_all(ParamSpec(f"blend.layer.{i}", 0.0, -2.0, 3.0) for i in range(18))
        server = OscServer(OscAdapter(registry), OscServerConfig(port=0)).start()
        n = int(rate * 1.5)
        sent = subprocess.run([sys.executable, "-c", SENDER, str(server.address[1]), str(rate), str(n)],
                              capture_output=True, text=True, check=True).stdout
        time.sleep(2.0)
        applied = server.adapter.stats.applied
        print(f"asked {rate}/s, sent {float(sent):.0f}/s: {applied}/{n} applied ({100 * applied / n:.1f} %)")
        server.stop()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5000, 10000, 20000])
