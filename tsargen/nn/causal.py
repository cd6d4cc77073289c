"""Causal 1-D convolutions with channel-group masks.

Causality comes from left padding: a conv with kernel ``k`` and dilation ``d`` sees inputs
``t - (k-1)d, ..., t - d, t``. The only tap that can leak information inside one timestep is the
current one (``t``), so channel-group masking (the PixelCNN colour trick applied to sensor
channels) is a registered mask buffer on that tap alone:

* mask ``A`` (input layer): output group ``g`` sees input groups ``< g`` at time ``t``;
* mask ``B`` (later layers): output group ``g`` sees input groups ``<= g`` at time ``t``.

Past taps are never masked. With one group, mask ``A`` removes the current tap entirely (a pure
one-step shift) and mask ``B`` is the identity, so the same layer serves the univariate and the
"independent channels" cases.
"""

import torch
import torch.nn.functional as F
from torch import nn


def group_ids(sizes):
    """Group id per channel for consecutive groups of the given sizes: ``[2, 1] -> [0, 0, 1]``."""
    return torch.repeat_interleave(torch.arange(len(sizes)), torch.as_tensor(sizes))


def split_evenly(n, n_groups):
    """Sizes of ``n_groups`` consecutive groups covering ``n`` channels, as even as possible."""
    if n < n_groups:
        raise ValueError(f"cannot split {n} channels into {n_groups} non-empty groups")
    base, extra = divmod(n, n_groups)
    return [base + (g < extra) for g in range(n_groups)]


def group_mask(in_ids, out_ids, mask_type):
    """``(n_out, n_in)`` 0/1 mask: ``A`` connects out group g to in groups < g, ``B`` to <= g."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    out_ids, in_ids = torch.as_tensor(out_ids)[:, None], torch.as_tensor(in_ids)[None, :]
    allowed = out_ids > in_ids if mask_type == "A" else out_ids >= in_ids
    return allowed.float()


class CausalConv1d(nn.Conv1d):
    """Dilated causal convolution: output ``t`` sees inputs ``t-(k-1)d .. t`` (left zero padding).

    Parameters
    ----------
    in_channels, out_channels, kernel_size, dilation, bias
        As in :class:`torch.nn.Conv1d`.
    current_mask : tensor of shape (out_channels, in_channels), optional
        0/1 mask applied to the current-time tap only (see :func:`group_mask`); stored as a buffer.

    Examples
    --------
    >>> conv = CausalConv1d(1, 4, kernel_size=2, dilation=4)
    >>> conv(torch.zeros(3, 1, 10)).shape   # (B, C_out, T)
    torch.Size([3, 4, 10])
    >>> conv.span
    4
    """

    def __init__(self, in_channels, out_channels, kernel_size=2, dilation=1, bias=True,
                 current_mask=None):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        if current_mask is None:
            self.mask = None
        else:
            mask = torch.ones_like(self.weight)
            mask[:, :, -1] = current_mask
            self.register_buffer("mask", mask)

    @property
    def span(self):
        """How many past timesteps this conv reaches back."""
        return (self.kernel_size[0] - 1) * self.dilation[0]

    def masked_weight(self):
        return self.weight if self.mask is None else self.weight * self.mask

    def forward(self, x):  # (B, C_in, T) -> (B, C_out, T)
        if x.shape[-1] == 0:
            return x.new_zeros(x.shape[0], self.out_channels, 0)
        return F.conv1d(F.pad(x, (self.span, 0)), self.masked_weight(), self.bias,
                        dilation=self.dilation)


class ChannelMaskedConv1d(CausalConv1d):
    """Causal conv whose current tap is masked over channel groups (mask ``A`` or ``B``).

    ``in_ids`` / ``out_ids`` give the group of every input / output channel.

    Examples
    --------
    >>> conv = ChannelMaskedConv1d([0, 1, 2], [0, 0, 1, 1, 2, 2], "A", kernel_size=2)
    >>> conv.mask[:, :, -1]          # group g sees channels < g of the current step
    tensor([[0., 0., 0.],
            [0., 0., 0.],
            [1., 0., 0.],
            [1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 0.]])
    """

    def __init__(self, in_ids, out_ids, mask_type, kernel_size=1, dilation=1, bias=True):
        super().__init__(len(in_ids), len(out_ids), kernel_size, dilation, bias,
                         current_mask=group_mask(in_ids, out_ids, mask_type))
