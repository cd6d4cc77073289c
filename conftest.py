"""Root pytest configuration: applies to the tests, the modules' doctests and README.md."""

import torch

# Tiny models run no faster on two threads, and on a busy 2-core machine a parallel region
# waits for a descheduled thread: one thread per test process keeps timings sane.
torch.set_num_threads(1)
