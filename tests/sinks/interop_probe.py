"""Run by tests/sinks/test_gpu_outputs.py under a display on a CUDA machine: CUDA frames sent to a
window, which should take them by CUDA-GL interop. Writes the GL vendor, the window's note (empty when
interop is used) and the pixels sent and shown to the .npz named in argv[1]."""

import ctypes
import sys

import numpy as np
import torch

from engine.sinks.base import Frame
from engine.sinks.window import WindowSink


def main(out: str) -> None:
    from pyglet import gl

    h, w = 90, 160
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    sent = torch.stack([(xx * 3) % 256, (yy * 5) % 256, (xx ^ yy) % 256, torch.full_like(xx, 255)], -1)
    sent = sent.to(torch.uint8).cuda()
    sink = WindowSink(vsync=False)
    with sink.open(w, h):
        sink.send(Frame(sent, 0))
        shown = sink.read_back()
        vendor = gl.glGetString(gl.GL_VENDOR)
        vendor = (ctypes.cast(vendor, ctypes.c_char_p).value or b"").decode() if vendor else ""
        note = sink.upload_note or ""
    np.savez(out, sent=sent.cpu().numpy(), shown=shown, vendor=np.array(vendor), note=np.array(note))


if __name__ == "__main__":
    main(sys.argv[1])
