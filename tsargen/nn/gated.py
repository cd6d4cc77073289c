"""Gated activation and the WaveNet residual/skip block.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio", §2.3-2.5: a dilated causal
conv feeds a gated unit ``tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)``, whose output goes
through a 1x1 conv to both the residual stream and the skip sum. Conditioning ``h`` is global
(one vector per sequence) or local (a time-aligned covariate sequence).

NOTE: the residual and skip 1x1 convs are one conv with ``R + S`` outputs (the same maps, one
matmul per step in generation).
"""

import torch
from torch import nn

from .causal import ChannelMaskedConv1d


def gated_activation(x):
    """``tanh(filter) * sigmoid(gate)`` with filter/gate the two halves of dim 1: (B, 2R, ...) -> (B, R, ...)."""
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class ResidualBlock(nn.Module):
    """One WaveNet layer. Channel-group ids keep it causal within a timestep (mask B).

    Parameters
    ----------
    res_ids, skip_ids : sequence of int
        Group of each residual / skip channel.
    kernel_size, dilation : int
    cond_channels : int
        Local (time-aligned) conditioning channels; 0 for none.
    global_channels : int
        Size of the global conditioning vector; 0 for none.

    Examples
    --------
    >>> blk = ResidualBlock([0] * 8, [0] * 16, kernel_size=2, dilation=4)
    >>> h, skip = blk(torch.zeros(2, 8, 50))
    >>> h.shape, skip.shape            # (B, R, T), (B, S, T)
    (torch.Size([2, 8, 50]), torch.Size([2, 16, 50]))
    """

    def __init__(self, res_ids, skip_ids, kernel_size=2, dilation=1, cond_channels=0,
                 global_channels=0):
        super().__init__()
        res_ids, skip_ids = list(res_ids), list(skip_ids)
        self.n_res = len(res_ids)
        self.dilated = ChannelMaskedConv1d(res_ids, res_ids + res_ids, "B", kernel_size, dilation)
        self.cond = nn.Conv1d(cond_channels, 2 * self.n_res, 1, bias=False) if cond_channels else None
        self.glob = nn.Linear(global_channels, 2 * self.n_res, bias=False) if global_channels else None
        self.out = ChannelMaskedConv1d(res_ids, res_ids + skip_ids, "B", 1)

    def forward(self, h, cond=None, g=None):
        """``h (B, R, T)``, ``cond (B, K, T)``, ``g (B, G)`` -> ``(h_next (B, R, T), skip (B, S, T))``."""
        z = self.dilated(h)
        if self.cond is not None:
            z = z + self.cond(cond)
        if self.glob is not None:
            z = z + self.glob(g)[:, :, None]
        rs = self.out(gated_activation(z))
        return h + rs[:, :self.n_res], rs[:, self.n_res:]
