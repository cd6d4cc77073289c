"""Spatial LSTM layers of PixelRNN: the Row LSTM and the Diagonal BiLSTM.

van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural Networks"
(arXiv:1601.06759), §3.1-3.2. Both layers read a map ``(B, C_in, H, W)`` and return hidden
states ``(B, n_units, H, W)``; an LSTM step is

    [i, f, o, g] = [sigma, sigma, sigma, tanh](K_ss * h_prev + K_is * x)
    c = f . c_prev + i . g,    h = o . tanh(c).

* :class:`RowLSTM` processes the image a row at a time: the input-to-state part is a masked
  ``1 x k`` conv along the row (mask B, computed for the whole map at once), the state-to-state
  part a ``1 x k`` conv over the previous row's hidden states; ``c_prev`` is the cell state of
  the pixel above. State ``(i, j)`` depends on the layer input at ``(i - d, j - (d + 1) s ..
  j + d s)`` for every ``d >= 0`` (``s = k // 2``, only ``j - s .. j`` in row ``i``): a
  triangle above the pixel.
* :class:`DiagonalBiLSTM` skews the map (row ``i`` shifted right by ``i``, :func:`skew`) so
  that the pixel above and the pixel to the left are both in the previous column, then runs a
  column-wise LSTM: a 1x1 input-to-state conv (mask B) and a ``2 x 1`` state-to-state conv over
  the previous column; ``c_prev`` is the cell state of the pixel to the left. The state at
  ``(i, j)`` covers every pixel above-left of it. A second LSTM runs on the mirrored map
  (right to left); its output is shifted down by one row, so that a pixel never sees its own
  row to the right, and added to the left-to-right output. Together they cover the whole causal
  context (all rows above, and the current row to the left) once the right-to-left direction
  also reads the image at its pixel (``context``): masked maps never hold the last pixel of
  the row above.

The gates of hidden unit ``u`` belong to the unit's channel group (colour): the input-to-state
convs carry the group masks (:class:`~tsargen.nn.masked.MaskedConv2d`), the state-to-state
convs read only earlier pixels and need none. ``bias`` adds an extra gate bias (class labels,
per-row covariates), broadcast over the map.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .masked import MaskedConv2d, down_shift


def skew(x):
    """Shift row ``i`` of ``(B, C, H, W)`` right by ``i``: ``-> (B, C, H, W + H - 1)``, zeros
    elsewhere. Column ``t`` of the result holds the anti-diagonal ``i + j = t``.

    Examples
    --------
    >>> skew(torch.arange(1., 7.).view(1, 1, 2, 3))[0, 0]
    tensor([[1., 2., 3., 0.],
            [0., 4., 5., 6.]])
    """
    b, c, h, w = x.shape
    flat = F.pad(x, (0, h)).reshape(b, c, h * (w + h))          # row i starts at i (w + h)
    return flat[:, :, :h * (w + h - 1)].reshape(b, c, h, w + h - 1)


def unskew(x):
    """Inverse of :func:`skew`: ``(B, C, H, W + H - 1) -> (B, C, H, W)``.

    Examples
    --------
    >>> x = torch.randn(2, 3, 4, 5)
    >>> torch.equal(unskew(skew(x)), x)
    True
    """
    b, c, h, t = x.shape
    w = t - h + 1
    flat = F.pad(x.reshape(b, c, h * t), (0, h))                # (B, C, H (W + H))
    return flat.reshape(b, c, h, w + h)[:, :, :, :w]


def lstm_cell(gates, c_prev, dim=1):
    """LSTM update from pre-activations ``gates (B, 4u, ...)`` ordered ``[i, f, o, g]`` along
    ``dim`` and the previous cell ``c_prev (B, u, ...)`` -> ``(h, c)``."""
    i, f, o, g = gates.chunk(4, dim=dim)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTM(nn.Module):
    """Row LSTM layer: ``(B, C_in, H, W) -> (B, n_units, H, W)``, one row per step.

    Parameters
    ----------
    in_ids, unit_ids : sequence of int
        Channel group (colour) of every input channel and of every hidden unit.
    kernel_size : int
        Odd width ``k`` of the input-to-state and state-to-state convs (3 in the paper).

    Examples
    --------
    >>> lstm = RowLSTM([0] * 6, [0] * 4, kernel_size=3)
    >>> lstm(torch.zeros(2, 6, 5, 7)).shape
    torch.Size([2, 4, 5, 7])
    """

    def __init__(self, in_ids, unit_ids, kernel_size=3):
        super().__init__()
        unit_ids = list(unit_ids)
        self.n_units = len(unit_ids)
        self.kernel_size = int(kernel_size)
        self.input_to_state = MaskedConv2d(in_ids, unit_ids * 4, "B", (1, kernel_size))
        self.state_to_state = nn.Conv1d(self.n_units, 4 * self.n_units, kernel_size,
                                        padding=kernel_size // 2, bias=False)

    def forward(self, x, bias=None, return_cells=False):
        """Hidden states ``(B, u, H, W)`` (and cell states with ``return_cells``); ``bias``
        broadcasts to the gates ``(B, 4u, H, W)``."""
        z = self.input_to_state(x)                                          # (B, 4u, H, W)
        if bias is not None:
            z = z + bias
        b, _, height, width = z.shape
        h = c = z.new_zeros(b, self.n_units, width)
        hs, cs = [], []
        for i in range(height):
            h, c = lstm_cell(z[:, :, i] + self.state_to_state(h), c)        # (B, u, W)
            hs.append(h)
            cs.append(c)
        h = torch.stack(hs, 2)                                              # (B, u, H, W)
        return (h, torch.stack(cs, 2)) if return_cells else h


class DiagonalBiLSTM(nn.Module):
    """Diagonal BiLSTM layer: ``(B, C_in, H, W) -> (B, n_units, H, W)``.

    Two column-wise LSTMs on the skewed map (left to right, and right to left on the mirrored
    map), ``n_units`` units each; the right-to-left states are shifted down one row and added.

    Parameters
    ----------
    in_ids, unit_ids : sequence of int
        Channel group (colour) of every input channel and of every hidden unit.
    context_channels : int
        Channels of an optional ``context (B, K, H, W)`` map that the right-to-left direction
        reads in full at every pixel through a 1x1 conv (no mask: its states are only used
        one row below). With the image as context, pixel ``(i, j)`` sees the last pixel of
        row ``i - 1``, which no masked map of row ``i - 1`` holds.

    Notes
    -----
    Both directions run in one loop over the ``W + H - 1`` skewed columns (a grouped conv for
    the two state-to-state kernels). States at the skew's padding are held at zero, so the
    first pixel of a row starts from a zero left state, as the pixel at the top starts from a
    zero state above.

    Examples
    --------
    >>> lstm = DiagonalBiLSTM([0] * 6, [0] * 4)
    >>> lstm(torch.zeros(2, 6, 5, 7)).shape
    torch.Size([2, 4, 5, 7])
    """

    def __init__(self, in_ids, unit_ids, context_channels=0):
        super().__init__()
        unit_ids = list(unit_ids)
        u = self.n_units = len(unit_ids)
        # gates [i, f, o, g] of the left-to-right LSTM, then those of the right-to-left one
        self.input_to_state = MaskedConv2d(in_ids, unit_ids * 8, "B", 1)
        # tap 0 reads the previous column one row up (the pixel above), tap 1 the same row
        # (the pixel to the left, or to the right for the mirrored direction)
        self.state_to_state = nn.Conv1d(2 * u, 8 * u, 2, groups=2, bias=False)
        self.context_to_state = (nn.Conv2d(context_channels, 4 * u, 1, bias=False)
                                 if context_channels else None)

    def forward(self, x, bias=None, context=None, return_directions=False):
        """``h_lr + down_shift(h_rl)`` ``(B, u, H, W)``; with ``return_directions`` also
        ``(h_lr, h_rl)``, the unshifted states of both directions. ``bias`` broadcasts to the
        gates ``(B, 8u, H, W)``; ``context (B, K, H, W)`` feeds the right-to-left gates."""
        u = self.n_units
        z = self.input_to_state(x)                                          # (B, 8u, H, W)
        if bias is not None:
            z = z + bias
        if self.context_to_state is not None:
            z = z + F.pad(self.context_to_state(context), (0, 0, 0, 0, 4 * u, 0))
        b, _, height, width = z.shape
        z = skew(torch.cat([z[:, :4 * u], z[:, 4 * u:].flip(3)], 1))       # (B, 8u, H, W+H-1)
        valid = skew(z.new_ones(1, 1, height, width))[0, 0]                 # (H, W+H-1)
        h, c = z.new_zeros(b, 2 * u, height), z.new_zeros(b, 2, u, height)
        hs = []
        for t in range(width + height - 1):
            gates = z[:, :, :, t] + self.state_to_state(F.pad(h, (1, 0)))  # (B, 8u, H)
            h, c = lstm_cell(gates.view(b, 2, 4 * u, height), c, dim=2)     # (B, 2, u, H)
            h, c = h * valid[:, t], c * valid[:, t]
            h = h.view(b, 2 * u, height)
            hs.append(h)
        hs = unskew(torch.stack(hs, 3))                                     # (B, 2u, H, W)
        h_lr, h_rl = hs[:, :u], hs[:, u:].flip(3)
        out = h_lr + down_shift(h_rl)
        return (out, (h_lr, h_rl)) if return_directions else out
