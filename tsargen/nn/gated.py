"""Gated activation, the WaveNet residual/skip block and the Gated PixelCNN layer.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio", §2.3-2.5: a dilated causal
conv feeds a gated unit ``tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)``, whose output goes
through a 1x1 conv to both the residual stream and the skip sum. Conditioning ``h`` is global
(one vector per sequence) or local (a time-aligned covariate sequence).

NOTE: the residual and skip 1x1 convs are one conv with ``R + S`` outputs (the same maps, one
matmul per step in generation).

:class:`GatedPixelLayer` is one layer of Gated PixelCNN (van den Oord et al. 2016, "Conditional
Image Generation with PixelCNN Decoders", arXiv:1606.05328, §2.1-2.3 and Figure 2).
"""

import torch
from torch import nn

from .causal import ChannelMaskedConv1d, group_mask
from .masked import DownRightShiftedConv2d, DownShiftedConv2d, MaskedConv2d, down_shift


def gated_activation(x):
    """``tanh(filter) * sigmoid(gate)``, filter and gate the two halves of dim 1:
    ``(B, 2R, ...) -> (B, R, ...)``.

    Computed as ``(2 sigmoid(2f) - 1) sigmoid(g)``: the same function, and torch's CPU sigmoid
    is several times faster than its tanh.
    """
    f, g = x.chunk(2, dim=1)
    return (2.0 * torch.sigmoid(2.0 * f) - 1.0) * torch.sigmoid(g)


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
        self.cond = (nn.Conv1d(cond_channels, 2 * self.n_res, 1, bias=False)
                     if cond_channels else None)
        self.glob = (nn.Linear(global_channels, 2 * self.n_res, bias=False)
                     if global_channels else None)
        self.out = ChannelMaskedConv1d(res_ids, res_ids + skip_ids, "B", 1)

    def forward(self, h, cond=None, g=None):
        """``h (B, R, T)``, ``cond (B, K, T)``, ``g (B, G)`` -> ``(h_next (B, R, T), skip (B,
        S, T))``."""
        z = self.dilated(h)
        if self.cond is not None:
            z = z + self.cond(cond)
        if self.glob is not None:
            z = z + self.glob(g)[:, :, None]
        rs = self.out(gated_activation(z))
        return h + rs[:, :self.n_res], rs[:, self.n_res:]


class GatedPixelLayer(nn.Module):
    """One Gated PixelCNN layer: a vertical and a horizontal stack joined by the v->h link.

    * vertical stack (no blind spot): a conv over the ``kernel_size // 2 + 1`` rows up to the
      current one, all ``kernel_size`` columns around it, on a map that itself only holds rows
      above, so ``v`` at ``(i, j)`` depends on rows ``< i`` only;
    * horizontal stack: a ``1 x (kernel_size // 2 + 1)`` conv over the current row up to the
      current pixel, whose tap at the pixel itself carries the colour mask (A in the first
      layer, B after), plus a 1x1 conv of the vertical pre-activations (the v->h link);
    * both stacks pass their ``2p`` pre-activations through ``tanh(f) * sigmoid(g)``, each
      with a per-class bias (``V^T h`` of the paper's eq. 4 for a one-hot label ``h``); the
      horizontal stack then has a 1x1 conv and a residual connection;
    * an optional ``row_bias (B, 2p, H)`` is added to the vertical pre-activations, the same
      for every column of a row (e.g. a 1x1 map of per-row covariates); through the link it
      also reaches the horizontal stack.

    The first layer (``first=True``) reads the image: its vertical conv covers the
    ``kernel_size // 2`` rows *above* (a down-shifted image), its horizontal conv uses mask A,
    and it has no residual (the image and the hidden maps differ in width).

    Parameters
    ----------
    in_ids : list of int
        Colour group of every input channel of the horizontal stack (the image's channels for
        the first layer, else the ``p`` hidden channels).
    hidden_ids : list of int
        Colour group of each of the ``p`` hidden channels.
    kernel_size : int
        Odd.
    first : bool
    n_classes : int
        Number of labels for the class biases; 0 for none.

    Examples
    --------
    >>> layer = GatedPixelLayer([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2], kernel_size=3)
    >>> v, h = layer(torch.zeros(2, 6, 5, 5), torch.zeros(2, 6, 5, 5))
    >>> v.shape, h.shape                 # (B, p, H, W) each
    (torch.Size([2, 6, 5, 5]), torch.Size([2, 6, 5, 5]))
    """

    def __init__(self, in_ids, hidden_ids, kernel_size=3, first=False, n_classes=0):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        in_ids, hidden_ids = list(in_ids), list(hidden_ids)
        p, half = len(hidden_ids), kernel_size // 2
        self.first, self.n_hidden = first, p
        rows = half if first else half + 1
        self.vertical = DownShiftedConv2d(len(in_ids) if first else p, 2 * p, (rows, kernel_size))
        self.horizontal = DownRightShiftedConv2d(
            len(in_ids), 2 * p, (1, half + 1),
            current_mask=group_mask(in_ids, hidden_ids + hidden_ids, "A" if first else "B"))
        self.link = nn.Conv2d(2 * p, 2 * p, 1)
        self.out = MaskedConv2d(hidden_ids, hidden_ids, "B", 1)
        self.v_label = nn.Embedding(n_classes, 2 * p) if n_classes else None
        self.h_label = nn.Embedding(n_classes, 2 * p) if n_classes else None
        if n_classes:
            nn.init.zeros_(self.v_label.weight)
            nn.init.zeros_(self.h_label.weight)

    def vertical_pre(self, v, labels=None, row_bias=None):
        """Vertical pre-activations ``(B, 2p, H, W)`` from the vertical input ``v``."""
        z = self.vertical(down_shift(v) if self.first else v)
        if self.v_label is not None:
            z = z + self.v_label(labels)[:, :, None, None]
        if row_bias is not None:
            z = z + row_bias[:, :, :, None]                                 # (B, 2p, H, 1)
        return z

    def forward(self, v, h, labels=None, row_bias=None):
        """``v``, ``h`` (the image for the first layer), ``labels (B,)``, ``row_bias (B, 2p,
        H)`` -> ``(v_out, h_out)``, ``(B, p, H, W)`` each."""
        zv = self.vertical_pre(v, labels, row_bias)                         # (B, 2p, H, W)
        zh = self.horizontal(h) + self.link(zv)
        if self.h_label is not None:
            zh = zh + self.h_label(labels)[:, :, None, None]
        h_out = self.out(gated_activation(zh))
        return gated_activation(zv), h_out if self.first else h + h_out
