"""PixelCNN for images of integer levels.

van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural Networks"
(arXiv:1601.06759), §3.5 (masks: §3.4) and Figure 5: a 7x7 masked convolution (mask A), then
residual blocks (ReLU, 1x1 conv 2h -> h, ReLU, kxk masked conv (mask B) h -> h, ReLU, 1x1 conv
h -> 2h, added to the block input), then ReLU, 1x1 conv, ReLU, 1x1 conv (mask B) and one
``n_levels``-way softmax per sub-pixel. Every hidden layer is split into one channel group per
colour; the colour masks make R depend on the previous pixels, G also on R, B also on R and G
of the same pixel:

    p(x) = prod_i p(x_i,R | x_<i) p(x_i,G | x_<i, x_i,R) p(x_i,B | x_<i, x_i,R, x_i,G).

The stacked masked convs leave a *blind spot*: some pixels above and to the right of the current
one are never seen, however deep the network (Gated PixelCNN removes it; see
``gated_pixelcnn.py``).

Generation caches what earlier pixels already computed (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models", arXiv:1704.06001): each masked conv keeps
the last rows of its input map, and producing a pixel runs every layer at that one pixel only.

NOTE (input): the levels ``0..n_levels-1`` enter the network rescaled to ``[-1, 1]``.
NOTE (binary images): the paper uses a sigmoid for binary MNIST; ``n_levels=2`` gives a 2-way
softmax, the same family.
NOTE (labels): with ``n_classes > 0`` every residual block adds a per-class bias after its kxk
conv (the conditioning of Gated PixelCNN; the original PixelCNN is unconditional). The biases
start at zero.
NOTE (row covariates): with ``n_row_features = F > 0`` the network takes ``row_cond (B, F, H)``,
one feature vector per row (e.g. exogenous covariates of a signal-image's timesteps); a 1x1 map
of it is added as a bias to the input conv and to every block's kxk conv, the same for every
column of the row. The covariates are given, not modelled, so any row may see any of them.
NOTE (kernel sizes): the residual blocks use ``kernel_size`` (3 in the paper) and the input conv
``input_kernel_size`` (7 in the paper); both must be odd.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.masked import MaskedConv2d
from ._image import (LevelImageNetwork, PixelStepper, RowBuffer, bias_of, colour_ids,
                     conv_matrix, level_heads, level_output, with_bias)


class PixelCNNBlock(nn.Module):
    """Residual block of the PixelRNN paper's Figure 5, with mask B in every conv.

    ``(B, 2h, H, W) -> (B, 2h, H, W)``: ReLU, 1x1 (2h -> h), ReLU, kxk masked (h -> h)
    [+ class bias] [+ row bias], ReLU, 1x1 (h -> 2h), plus the input.

    Parameters
    ----------
    outer_ids, inner_ids : list of int
        Colour group of each of the ``2h`` outer and ``h`` inner channels.
    kernel_size : int
    n_classes : int
        Number of labels for the class bias; 0 for none.
    n_row_features : int
        Per-row covariates ``row_cond (B, F, H)`` for the row bias; 0 for none.
    """

    def __init__(self, outer_ids, inner_ids, kernel_size=3, n_classes=0, n_row_features=0):
        super().__init__()
        self.row_bias = (nn.Conv1d(n_row_features, len(inner_ids), 1, bias=False)
                         if n_row_features else None)
        self.reduce = MaskedConv2d(outer_ids, inner_ids, "B", 1)
        self.conv = MaskedConv2d(inner_ids, inner_ids, "B", kernel_size)
        self.expand = MaskedConv2d(inner_ids, outer_ids, "B", 1)
        self.label_bias = nn.Embedding(n_classes, len(inner_ids)) if n_classes else None
        if n_classes:
            nn.init.zeros_(self.label_bias.weight)

    def conv_input(self, h):
        """The kxk conv's input map: ``(B, 2h, H, W) -> (B, h, H, W)``."""
        return F.relu(self.reduce(F.relu(h)))

    def forward(self, h, labels=None, row_cond=None):
        z = self.conv(self.conv_input(h))                                   # (B, h, H, W)
        if self.label_bias is not None:
            z = z + self.label_bias(labels)[:, :, None, None]
        if self.row_bias is not None:
            z = z + self.row_bias(row_cond)[:, :, :, None]                  # (B, h, H, 1)
        return h + self.expand(F.relu(z))


class PixelCNN(LevelImageNetwork):
    """PixelCNN: masked conv stack with an ``n_levels``-way softmax per sub-pixel.

    Parameters
    ----------
    n_channels : int
        Colour channels ``C`` (1 for greyscale, 3 for RGB).
    n_levels : int
        Levels per sub-pixel (256 for uint8 images, 2 for binary).
    n_layers : int
        Residual blocks after the input conv.
    hidden_channels : int
        Feature maps ``2h`` between blocks (the blocks' inner width is ``h``).
    kernel_size, input_kernel_size : int
        Odd kernel sizes of the blocks' masked convs and of the input conv.
    n_classes : int
        Number of labels (class-conditional model); 0 for none.
    n_row_features : int
        Per-row covariates ``row_cond (B, F, H)`` taken by ``forward``, ``log_prob`` and
        ``generate``; 0 for none.

    Attributes
    ----------
    receptive_field : int
        ``r = input_kernel_size // 2 + n_layers * (kernel_size // 2)``: the distribution of
        pixel ``(i, j)`` depends on pixels in rows ``i - r .. i - 1`` and columns
        ``j - r .. j + r``, and on row ``i`` at columns ``j - r .. j - 1``, at most. Some
        pixels of that region above and to the right are not seen (the blind spot).
    heads : HeadSet
        The categorical heads; raw channel ``c * n_levels + k`` is the logit of level ``k``
        of colour ``c``.

    Examples
    --------
    >>> net = PixelCNN(n_channels=3, n_levels=4, n_layers=2, hidden_channels=12)
    >>> x = torch.randint(0, 4, (2, 3, 5, 6)).float()           # (B, C, H, W) levels
    >>> net(x).shape                                             # (B, C * n_levels, H, W)
    torch.Size([2, 12, 5, 6])
    >>> net.log_prob(x).shape                                    # (B, C, H, W)
    torch.Size([2, 3, 5, 6])
    >>> net.generate(2, 4, 4).shape                              # sampled levels
    torch.Size([2, 3, 4, 4])
    """

    def __init__(self, n_channels=1, n_levels=256, n_layers=5, hidden_channels=64,
                 kernel_size=3, input_kernel_size=7, n_classes=0, n_row_features=0):
        super().__init__()
        self._keep_config(dict(n_channels=n_channels, n_levels=n_levels, n_layers=n_layers,
                               hidden_channels=hidden_channels, kernel_size=kernel_size,
                               input_kernel_size=input_kernel_size, n_classes=n_classes),
                          n_row_features)
        c = n_channels
        self.heads = level_heads(c, n_levels)
        outer = colour_ids(hidden_channels, c)                      # 2h channels
        inner = colour_ids(hidden_channels // 2, c)                 # h channels
        self.input = MaskedConv2d(list(range(c)), outer, "A", input_kernel_size)
        self.input_row_bias = (nn.Conv1d(n_row_features, len(outer), 1, bias=False)
                               if n_row_features else None)
        self.blocks = nn.ModuleList(PixelCNNBlock(outer, inner, kernel_size, n_classes,
                                                  n_row_features) for _ in range(n_layers))
        self.out1, self.out2 = level_output(outer, c, n_levels)
        self.receptive_field = input_kernel_size // 2 + n_layers * (kernel_size // 2)

    def _forward(self, x, labels, row_cond=None, keep=False):
        """Logits ``(B, C*L, H, W)`` of ``x (B, C, H, W)`` levels, and with ``keep`` the input
        map of every block's kxk conv (for caching)."""
        h = self.input(self.scale(x))                                       # (B, 2h, H, W)
        if self.input_row_bias is not None:
            h = h + self.input_row_bias(row_cond)[:, :, :, None]            # (B, 2h, H, 1)
        maps = [] if keep else None
        for block in self.blocks:
            if keep:
                maps.append(block.conv_input(h))                            # (B, h, H, W)
            h = block(h, labels, row_cond)
        return self.logits(h), maps

    def _cache(self, x, first_row, labels, row_cond):
        return _PixelCNNCache(self, x, first_row, labels, row_cond)


# ---------------------------------------------------------------------- cached generation
def _row_biases(bias, row_map, row_cond):
    """Per-image bias ``(B, n)`` plus the 1x1 map of the row covariates -> ``(B, H, n)``, or
    ``(B, 1, n)`` without covariates (the same bias for every row)."""
    if row_map is None:
        return bias[:, None].contiguous()
    return (bias[:, None] + row_map(row_cond).transpose(1, 2)).contiguous()  # (B, H, n)


class _PixelCNNCache(PixelStepper):
    """Cached generation: every masked conv keeps the last rows of its input map; a pixel is
    computed by running each layer at that pixel only.

    The input conv reads the image rows; block ``l``'s kxk conv reads a :class:`RowBuffer` of
    its input map ``(B, h)`` per pixel. Rows below the centre of a masked conv are zero, and
    the rows above the centre are known when a row starts: ``begin_row`` computes their part
    of every conv for the whole row (plus the biases), and a pixel adds the part of the
    current row, the ``k // 2 + 1`` columns up to it, as one matmul per conv.
    """

    def __init__(self, net, x, first_row, labels, row_cond=None):
        k_in = net.input.kernel_size[0]
        super().__init__(net, x, first_row, k_in)
        n, width = x.shape[0], x.shape[3]
        if first_row:
            maps = net.known_maps(x, first_row, labels, row_cond)
        else:
            maps = [x.new_zeros(n, b.conv.in_channels, 0, width) for b in net.blocks]
        w, half = net.input.masked_weight(), k_in // 2
        self.w_in_above = half, conv_matrix(w[:, :, :half]) if half else None
        self.w_in = conv_matrix(w[:, :, half:half + 1, :half + 1])
        # biases per image and row: (B, H, channels); the row covariates' part varies by row
        self.b_in = _row_biases(bias_of(net.input).expand(n, -1), net.input_row_bias, row_cond)
        self.above_in = x.new_empty(n, width, w.shape[0])                   # (B, W, 2h)
        self.input_steps = list(zip([self.above_in[:, j] for j in range(width)],
                                    self.image.windows(width, half + 1)))
        self.h = x.new_empty(n, w.shape[0])                                 # (B, 2h)
        self.blocks, self.steps = [], []
        for block, m in zip(net.blocks, maps):
            k = block.conv.kernel_size[0]
            half = k // 2
            bias = bias_of(block.conv).expand(n, -1)
            if block.label_bias is not None:
                bias = bias + block.label_bias(labels)                      # (B, h)
            wc = block.conv.masked_weight()
            rows, inner = RowBuffer(m, half + 1, half, half), wc.shape[0]
            # the conv's output gets a column of ones (zero weights, bias 1): the expand
            # conv's bias is then its weight's last row
            above = x.new_ones(n, width, inner + 1)                         # (B, W, h + 1)
            w_cur = conv_matrix(wc[:, :, half:half + 1, :half + 1])         # ((k//2+1) h, h)
            w_cur = torch.cat([w_cur, torch.zeros_like(w_cur[:, :1])], dim=1)
            self.blocks.append((rows, (half, conv_matrix(wc[:, :, :half]) if half else None),
                                _row_biases(bias, block.row_bias,
                                                                   row_cond), above))
            self.steps.append((
                with_bias(conv_matrix(block.reduce.masked_weight()), bias_of(block.reduce)),
                rows.cells(width), rows.windows(width, half + 1),
                [above[:, j] for j in range(width)], w_cur, x.new_empty(n, inner + 1),
                with_bias(conv_matrix(block.expand.masked_weight()), bias_of(block.expand))))

    def begin_row(self, i):
        if i > self.first_row:
            self.image.advance()
            for block in self.blocks:
                block[0].advance()
        r = min(i, self.b_in.shape[1] - 1)                    # row i's bias (one row if constant)
        self.image.conv_rows(self.w_in_above[1], self.w_in_above[0], self.b_in[:, r],
                             self.above_in)
        for rows, (n_rows, w_above), bias, above in self.blocks:
            rows.conv_rows(w_above, n_rows, bias[:, min(i, bias.shape[1] - 1)],
                           above[:, :, :-1])

    def _hidden(self, j):
        h, relu_h, relu_view = self.h, self.relu_h, self.relu_view
        above, window = self.input_steps[j]
        torch.addmm(above, window, self.w_in, out=h)                                # (B, 2h)
        for w_red, cells, windows, aboves, w_cur, z, w_exp in self.steps:
            torch.clamp_min(h, 0.0, out=relu_view)
            torch.mm(relu_h, w_red, out=cells[j]).relu_()            # (B, h) into the row
            torch.addmm(aboves[j], windows[j], w_cur, out=z).relu_()                # (B, h + 1)
            h.addmm_(z, w_exp)                                                      # (B, 2h)
        return h
