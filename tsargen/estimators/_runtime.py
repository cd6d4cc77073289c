"""Seeds, devices and processes: one ``random_state`` drives every random step, and the
caller's global random state is left untouched."""

import contextlib

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..constraints import Check, check_param

#: The ``device`` parameter's constraint (see tsargen.validation); None means "auto".
DEVICE = [None, Check(lambda d: isinstance(d, str) and d in ("auto", "cpu", "cuda")
                      or str(d).startswith("cuda:"), "one of 'auto', 'cpu', 'cuda', 'cuda:<k>'")]


def draw_classes(log_lik, prior, n_samples, seed):
    """Classes ``(n_samples * n,)`` (sample-major) drawn from the posterior
    ``p(k | x_i) ∝ prior_k exp(log_lik[i, k])`` of each of ``n`` items, ``log_lik (n, K)``."""
    log_post = np.log(prior) + log_lik
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    cdf = np.cumsum(post / post.sum(axis=1, keepdims=True), axis=1)       # (n, K)
    u = np.random.RandomState(seed).random_sample((n_samples, len(cdf), 1))
    return torch.as_tensor((u > cdf[None, :, :-1]).sum(-1).reshape(-1))


def make_seed(random_state):
    """An int seed from ``random_state`` (None, int or RandomState). ``None`` draws fresh OS
    entropy rather than from numpy's global generator, which is left untouched."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


@contextlib.contextmanager
def seeded(seed, device="cpu"):
    """Seed torch inside the block; the caller's global RNG state is restored afterwards."""
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def torch_threads(n):
    """Run torch on ``n`` intra-op threads inside the block and give the caller back its own
    setting after it (``None``: leave torch's setting alone)."""
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def resolve_device(device):
    check_param(device, "device", DEVICE)
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available; use device='cpu'.")
    return device


def is_primary():
    """True unless this process is a ``torch.distributed`` rank other than 0 (which must not
    write files)."""
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
