"""PixelCNN++'s gated residual block and its concatenated ELU.

Salimans, Karpathy, Chen and Kingma 2017, "PixelCNN++: Improving the PixelCNN with Discretized
Logistic Mixture Likelihood and Other Modifications" (arXiv:1701.05517), §2.4-2.5: every block is

    c1 = conv(concat_elu(x)) [+ nin(concat_elu(a))]      # a: a short-cut / auxiliary input
    c2 = conv(dropout(concat_elu(c1))) [+ conditioning bias]
    out = x + c2_a * sigmoid(c2_b)                         # a gated residual

where ``conv`` is a causal (down-shifted or down-right-shifted) conv and ``nin`` a 1x1 conv.
"""

import torch
import torch.nn.functional as F
from torch import nn


def concat_elu(x):
    """``elu([x, -x])`` along the channels: ``(B, C, ...) -> (B, 2C, ...)``.

    Examples
    --------
    >>> concat_elu(torch.tensor([[1.0, -1.0]])).tolist()
    [[1.0, -0.6321205496788025, -0.6321205496788025, 1.0]]
    """
    return F.elu(torch.cat([x, -x], dim=1))


class GatedResnet(nn.Module):
    """Gated residual block ``(B, F, H, W) -> (B, F, H, W)`` around a causal conv class.

    Parameters
    ----------
    n_filters : int
        ``F``, the width of the block's input and output.
    conv : type
        Causal conv class taking ``(in_channels, out_channels, kernel_size)``, e.g.
        :class:`~tsargen.nn.masked.DownShiftedConv2d`.
    kernel_size : (int, int)
    aux_channels : int
        Channels of the short-cut input ``a`` (0 for none); it enters through
        ``nin(concat_elu(a))``.
    dropout : float
        Dropout probability on the inner activations (active only in training mode).

    Examples
    --------
    >>> from tsargen.nn.masked import DownRightShiftedConv2d
    >>> blk = GatedResnet(8, DownRightShiftedConv2d, (2, 2), aux_channels=16, dropout=0.1)
    >>> blk(torch.zeros(2, 8, 5, 5), torch.zeros(2, 16, 5, 5)).shape
    torch.Size([2, 8, 5, 5])
    """

    def __init__(self, n_filters, conv, kernel_size, aux_channels=0, dropout=0.0):
        super().__init__()
        self.conv1 = conv(2 * n_filters, n_filters, kernel_size)
        self.aux = nn.Conv2d(2 * aux_channels, n_filters, 1) if aux_channels else None
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv(2 * n_filters, 2 * n_filters, kernel_size)

    def forward(self, x, a=None, bias=None):
        """``x (B, F, H, W)``, ``a (B, A, H, W)``, ``bias`` broadcastable to ``(B, 2F, H, W)``
        (class / row conditioning) -> ``(B, F, H, W)``."""
        c1 = self.conv1(concat_elu(x))                                      # (B, F, H, W)
        if self.aux is not None:
            c1 = c1 + self.aux(concat_elu(a))
        c2 = self.conv2(self.dropout(concat_elu(c1)))                       # (B, 2F, H, W)
        if bias is not None:
            c2 = c2 + bias
        value, gate = c2.chunk(2, dim=1)
        return x + value * torch.sigmoid(gate)
