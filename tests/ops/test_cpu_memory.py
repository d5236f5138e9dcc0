"""retain_freed_memory: per-frame tensors stop page-faulting once freed memory is kept (glibc)."""

import subprocess
import sys

import pytest

CODE = """
import resource, torch
from stylegan_ops.cpu_memory import retain_freed_memory
torch.set_num_threads(1)
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        x = torch.ones(40 << 20 >> 2)   # 40 MiB, as one large activation
        y = x * 2                       # a second block of the same size
        del x, y
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
before = faults()
applied = retain_freed_memory()
faults(), faults()                      # the heap grows to its steady size
print(before, applied, faults(), retain_freed_memory())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_freed_frame_buffers_are_reused_without_page_faults():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    before, applied, after, again = out.split()
    assert applied == "True" and again == "True"
    assert int(before) > 1000          # 40 MiB blocks come from fresh mmap pages every time
    assert int(after) < int(before) / 20  # now they are reused from the heap
