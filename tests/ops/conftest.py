"""The op tests run thousands of tiny convolutions: one thread avoids OpenMP barrier stalls on a
shared 2-core machine and keeps them fast."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
