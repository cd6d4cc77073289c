"""Causal 2-D convolutions for images in raster order (row by row, left to right).

Two ways to keep a conv causal:

* **Masks** (PixelRNN/PixelCNN, van den Oord et al. 2016, arXiv:1601.06759, §3.4):
  :class:`MaskedConv2d` zeroes every kernel tap below the centre row and right of the centre
  in the centre row. The centre tap itself carries a mask over channel groups (the colour
  masks): with groups R, G, B, mask ``A`` (input layer) connects output group ``g`` to input
  groups ``< g`` of the same pixel, mask ``B`` (later layers) to groups ``<= g``. The mask is a
  registered buffer multiplied into the weight on every call, never written into the weight.
* **Shifts** (Gated PixelCNN's stacks, and PixelCNN++, Salimans et al. 2017): one-sided zero
  padding makes a plain conv see only rows above (:class:`DownShiftedConv2d`) or rows above
  and columns to the left (:class:`DownRightShiftedConv2d`); :func:`down_shift` and
  :func:`right_shift` move a map by one pixel so that it excludes its own row / pixel.

Group masks come from :func:`tsargen.nn.causal.group_mask`: with a single group, mask ``A``
removes the centre tap entirely and mask ``B`` keeps it.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .causal import group_mask


def _pair(k):
    return (int(k), int(k)) if isinstance(k, int) else (int(k[0]), int(k[1]))


def raster_mask(kernel_size, centre_mask):
    """Full ``(C_out, C_in, kh, kw)`` PixelCNN mask: rows above the centre, the centre row left
    of the centre, and ``centre_mask (C_out, C_in)`` at the centre tap.

    Examples
    --------
    >>> raster_mask(3, torch.zeros(1, 1))[0, 0]
    tensor([[1., 1., 1.],
            [1., 0., 0.],
            [0., 0., 0.]])
    """
    kh, kw = _pair(kernel_size)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"masked convs need an odd kernel size, got {(kh, kw)}")
    n_out, n_in = centre_mask.shape
    mask = torch.zeros(n_out, n_in, kh, kw)
    mask[:, :, :kh // 2] = 1.0
    mask[:, :, kh // 2, :kw // 2] = 1.0
    mask[:, :, kh // 2, kw // 2] = centre_mask
    return mask


class MaskedConv2d(nn.Conv2d):
    """PixelCNN masked convolution with colour (channel-group) masks; output same size as input.

    Output pixel ``(i, j)`` sees input rows ``< i`` (within the kernel), row ``i`` at columns
    ``< j``, and at ``(i, j)`` itself only the channel groups the centre mask allows.

    Parameters
    ----------
    in_ids, out_ids : sequence of int
        Group of every input / output channel (e.g. the colour each channel belongs to).
    mask_type : {"A", "B"}
        ``A``: output group ``g`` sees input groups ``< g`` at the centre; ``B``: ``<= g``.
    kernel_size : int or (int, int)
        Odd sizes only.
    bias : bool

    Notes
    -----
    The taps below the centre row are always zero, so :meth:`forward` convolves with the top
    ``kh // 2 + 1`` kernel rows only (top padding ``kh // 2``, none at the bottom): the same
    result for about half the work.

    Examples
    --------
    >>> conv = MaskedConv2d([0, 1, 2], [0, 0, 1, 1, 2, 2], "A", kernel_size=7)
    >>> conv(torch.zeros(2, 3, 8, 8)).shape        # (B, C_out, H, W)
    torch.Size([2, 6, 8, 8])
    >>> conv.mask[:, :, 3, 3]                       # centre tap: colour mask A
    tensor([[0., 0., 0.],
            [0., 0., 0.],
            [1., 0., 0.],
            [1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 0.]])
    """

    def __init__(self, in_ids, out_ids, mask_type, kernel_size=3, bias=True):
        kh, kw = _pair(kernel_size)
        super().__init__(len(in_ids), len(out_ids), (kh, kw), bias=bias)
        self.mask_type = mask_type
        self.register_buffer("mask", raster_mask((kh, kw), group_mask(in_ids, out_ids,
                                                                      mask_type)))

    def masked_weight(self):
        """The weight times its mask, ``(C_out, C_in, kh, kw)``."""
        return self.weight * self.mask

    def forward(self, x):  # (B, C_in, H, W) -> (B, C_out, H, W)
        kh, kw = self.kernel_size
        w = self.masked_weight()[:, :, :kh // 2 + 1]                 # (C_out, C_in, kh//2+1, kw)
        return F.conv2d(F.pad(x, (kw // 2, kw // 2, kh // 2, 0)), w, self.bias)


def down_shift(x):
    """Move a map down by one row (zeros enter at the top): ``(B, C, H, W)`` -> same shape."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def right_shift(x):
    """Move a map right by one column (zeros enter at the left): ``(B, C, H, W)`` -> same."""
    return F.pad(x, (1, 0))[:, :, :, :-1]


class DownShiftedConv2d(nn.Conv2d):
    """Conv that sees only the current row and rows above: output ``(i, j)`` reads input rows
    ``i - kh + 1 .. i`` and columns ``j - (kw - 1) // 2 .. j + kw // 2`` (zero padding on top
    and both sides, none below). With ``stride`` the same holds on the strided grid.

    Examples
    --------
    >>> conv = DownShiftedConv2d(4, 8, kernel_size=(2, 3))
    >>> conv(torch.zeros(1, 4, 6, 5)).shape
    torch.Size([1, 8, 6, 5])
    """

    def __init__(self, in_channels, out_channels, kernel_size=(2, 3), stride=1, bias=True):
        super().__init__(in_channels, out_channels, _pair(kernel_size), stride=stride,
                         bias=bias)
        kh, kw = self.kernel_size
        self.padding_lrtb = ((kw - 1) // 2, kw // 2, kh - 1, 0)

    def forward(self, x):  # (B, C_in, H, W) -> (B, C_out, H', W')
        return F.conv2d(F.pad(x, self.padding_lrtb), self.weight, self.bias, self.stride)


class DownRightShiftedConv2d(nn.Conv2d):
    """Conv that sees only rows above and, in each row, columns up to the current one: output
    ``(i, j)`` reads input rows ``i - kh + 1 .. i`` and columns ``j - kw + 1 .. j``.

    ``current_mask (C_out, C_in)``, when given, multiplies the tap at ``(i, j)`` itself (a
    registered buffer): a colour mask from :func:`~tsargen.nn.causal.group_mask`, so that with
    ``kh = 1`` this is the horizontal-stack conv of Gated PixelCNN (mask ``A`` at the input).

    Examples
    --------
    >>> conv = DownRightShiftedConv2d(3, 6, kernel_size=(1, 4),
    ...                               current_mask=torch.zeros(6, 3))
    >>> conv(torch.zeros(1, 3, 5, 5)).shape
    torch.Size([1, 6, 5, 5])
    >>> conv.mask[0, 0]                           # the current pixel is not seen
    tensor([[1., 1., 1., 0.]])
    """

    def __init__(self, in_channels, out_channels, kernel_size=(2, 2), stride=1, bias=True,
                 current_mask=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), stride=stride,
                         bias=bias)
        kh, kw = self.kernel_size
        self.padding_lrtb = (kw - 1, 0, kh - 1, 0)
        if current_mask is None:
            self.mask = None
        else:
            mask = torch.ones_like(self.weight)
            mask[:, :, -1, -1] = current_mask
            self.register_buffer("mask", mask)

    def masked_weight(self):
        return self.weight if self.mask is None else self.weight * self.mask

    def forward(self, x):  # (B, C_in, H, W) -> (B, C_out, H', W')
        return F.conv2d(F.pad(x, self.padding_lrtb), self.masked_weight(), self.bias,
                        self.stride)


class DownShiftedConvTranspose2d(nn.ConvTranspose2d):
    """Transposed conv (upsampling by ``stride``) keeping the down-shifted property: output row
    ``i`` depends only on input rows ``<= i // stride`` (PixelCNN++'s up-pass). The output is
    cropped to ``stride`` times the input size.

    Examples
    --------
    >>> up = DownShiftedConvTranspose2d(4, 2, kernel_size=(2, 3), stride=2)
    >>> up(torch.zeros(1, 4, 3, 5)).shape
    torch.Size([1, 2, 6, 10])
    """

    def __init__(self, in_channels, out_channels, kernel_size=(2, 3), stride=2, bias=True):
        super().__init__(in_channels, out_channels, _pair(kernel_size), stride=stride,
                         bias=bias)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if kh < sh or kw - (kw - 1) // 2 < sw:
            raise ValueError(f"kernel {(kh, kw)} is too small for stride {(sh, sw)}")

    def forward(self, x):  # (B, C_in, H, W) -> (B, C_out, sH, sW)
        out = super().forward(x)
        kh, kw = self.kernel_size
        sh, sw = self.stride
        left = (kw - 1) // 2
        return out[:, :, :x.shape[2] * sh, left:left + x.shape[3] * sw]


class DownRightShiftedConvTranspose2d(nn.ConvTranspose2d):
    """Transposed conv keeping the down-right-shifted property: output ``(i, j)`` depends only
    on inputs at rows ``<= i // stride`` and columns ``<= j // stride``.

    Examples
    --------
    >>> up = DownRightShiftedConvTranspose2d(4, 2, kernel_size=(2, 2), stride=2)
    >>> up(torch.zeros(1, 4, 3, 5)).shape
    torch.Size([1, 2, 6, 10])
    """

    def __init__(self, in_channels, out_channels, kernel_size=(2, 2), stride=2, bias=True):
        super().__init__(in_channels, out_channels, _pair(kernel_size), stride=stride,
                         bias=bias)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if kh < sh or kw < sw:
            raise ValueError(f"kernel {(kh, kw)} is too small for stride {(sh, sw)}")

    def forward(self, x):  # (B, C_in, H, W) -> (B, C_out, sH, sW)
        out = super().forward(x)
        sh, sw = self.stride
        return out[:, :, :x.shape[2] * sh, :x.shape[3] * sw]
