"""Gated PixelCNN for images of integer levels, optionally class-conditional.

van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves and Kavukcuoglu 2016, "Conditional Image
Generation with PixelCNN Decoders" (arXiv:1606.05328), §2: every layer has a vertical stack
(conditioning on all rows above) and a horizontal stack (conditioning on the current row up to
the current pixel), so the receptive field has no blind spot; gated units
``tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h)`` replace the ReLUs; the vertical
pre-activations feed the horizontal stack through a 1x1 conv (the v->h link); the horizontal
stack has residual connections; a label ``h`` (one-hot) conditions every gated unit. The layer
itself is :class:`tsargen.nn.gated.GatedPixelLayer`. The output is PixelCNN's: ReLU, 1x1 conv,
ReLU, 1x1 conv (mask B) and an ``n_levels``-way softmax per sub-pixel, with the same colour
masks (R, then G given R, then B given R and G).

Generation follows Ramachandran et al. 2017 ("Fast Generation for Convolutional Autoregressive
Models", arXiv:1704.06001): the vertical stack of a whole row is computed once when the row
starts (it only depends on rows above), and each pixel then runs the horizontal stack at that
pixel only.

NOTE (vertical stack): the paper masks an ``n x n`` conv and shifts its output down before the
link; here the first layer's vertical conv reads the down-shifted image over ``n // 2`` rows, so
every vertical map holds rows above the current one and the link needs no shift. With the same
kernel sizes the field reaches one row less far up (``r`` rows rather than the ``r + 1`` of the
shifted ``ceil(n / 2)``-row conv); its columns are the same.
NOTE (input layer): the first layer uses ``input_kernel_size`` (7 by default, as PixelCNN's
input conv) and has no residual connection; the other ``n_layers`` layers use ``kernel_size``.
NOTE (input): the levels enter the network rescaled to ``[-1, 1]``.
NOTE (labels): the per-class biases (``V^T h``) start at zero.
NOTE (row covariates): with ``n_row_features = F > 0`` the network takes ``row_cond (B, F, H)``,
one feature vector per row; every layer adds a 1x1 map of it to its vertical pre-activations
(the same for every column of a row), which also reach the horizontal stack through the link.
Row ``i``'s covariates are given, not modelled, so the vertical stack of row ``i`` may see them.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.gated import GatedPixelLayer, gated_activation
from ._image import (CachedStepper, LevelImageNetwork, RowBuffer, bias_of, colour_ids,
                     conv_matrix, level_heads, level_output)


class GatedPixelCNN(LevelImageNetwork):
    """Gated PixelCNN: vertical and horizontal gated stacks, softmax per sub-pixel.

    Parameters
    ----------
    n_channels : int
        Colour channels ``C``.
    n_levels : int
        Levels per sub-pixel.
    n_layers : int
        Gated layers after the input layer.
    hidden_channels : int
        Feature maps ``p`` of each stack.
    kernel_size, input_kernel_size : int
        Odd kernel sizes of the gated layers and of the input layer.
    n_classes : int
        Number of labels (class-conditional model); 0 for none.
    n_row_features : int
        Per-row covariates ``row_cond (B, F, H)`` taken by ``forward``, ``log_prob`` and
        ``generate``; 0 for none.

    Attributes
    ----------
    receptive_field : int
        ``r = input_kernel_size // 2 + n_layers * (kernel_size // 2)``: pixel ``(i, j)``
        depends on *every* pixel in rows ``i - r .. i - 1``, columns ``j - r .. j + r`` (clipped
        to the image), and in row ``i`` at columns ``j - r .. j - 1``, and on no other.
    heads : HeadSet

    Examples
    --------
    >>> net = GatedPixelCNN(n_channels=1, n_levels=2, n_layers=2, hidden_channels=8,
    ...                     n_classes=10)
    >>> x = torch.randint(0, 2, (3, 1, 6, 6)).float()            # (B, C, H, W) levels
    >>> labels = torch.tensor([0, 3, 9])
    >>> net(x, labels).shape                                     # (B, C * n_levels, H, W)
    torch.Size([3, 2, 6, 6])
    >>> net.generate(3, 6, 6, labels=labels).shape
    torch.Size([3, 1, 6, 6])
    >>> net.receptive_field
    5
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
        hidden = colour_ids(hidden_channels, c)
        self.layers = nn.ModuleList(
            [GatedPixelLayer(list(range(c)), hidden, input_kernel_size, True, n_classes)]
            + [GatedPixelLayer(hidden, hidden, kernel_size, False, n_classes)
               for _ in range(n_layers)])
        self.out1, self.out2 = level_output(hidden, c, n_levels)
        # per layer: row covariates -> a bias (B, 2p, H) of the vertical pre-activations
        self.row_maps = nn.ModuleList(
            nn.Conv1d(n_row_features, 2 * len(hidden), 1, bias=False)
            for _ in self.layers) if n_row_features else None
        self.receptive_field = input_kernel_size // 2 + n_layers * (kernel_size // 2)

    def _forward(self, x, labels, row_cond=None, keep=False):
        """Logits ``(B, C*L, H, W)`` of ``x (B, C, H, W)`` levels, and with ``keep`` every
        layer's vertical output (for caching)."""
        v = h = self.scale(x)
        maps = [] if keep else None
        for l, layer in enumerate(self.layers):
            row_bias = None if row_cond is None else self.row_maps[l](row_cond)  # (B, 2p, H)
            v, h = layer(v, h, labels, row_bias)                                 # (B, p, H, W)
            if keep:
                maps.append(v)
        return self.logits(h), maps

    def _cache(self, x, first_row, labels, row_cond):
        return _GatedCache(self, x, first_row, labels, row_cond)


# ---------------------------------------------------------------------- cached generation
class _GatedCache(CachedStepper):
    """Cached generation: vertical stacks computed a row at a time, horizontal stacks a pixel
    at a time.

    Buffers: the image's last ``input_kernel_size // 2`` rows plus the current row; each
    later layer's vertical input (the previous layer's vertical output) over its last
    ``kernel_size // 2`` rows plus the current row; and each layer's horizontal output in the
    current row, the next layer's horizontal input.
    """

    def __init__(self, net, x, first_row, labels, row_cond=None):
        super().__init__(net, x, first_row, net.layers[0].vertical.kernel_size[1])
        n, _, _, width = x.shape
        if first_row:
            maps = net._forward(x[:, :, :first_row], labels, None if row_cond is None else
                                row_cond[:, :, :first_row], keep=True)[1]
        else:
            maps = [x.new_zeros(n, layer.n_hidden, 0, width) for layer in net.layers]
        self.width = width
        # vertical input of every layer: the image, then the previous layer's vertical output
        self.vrows = [self.image]
        for layer, m in zip(net.layers[1:], maps):
            kh, kw = layer.vertical.kernel_size
            self.vrows.append(RowBuffer(m, kh, (kw - 1) // 2, kw // 2))
        self.layers = [self._layer_state(net, l, labels, row_cond, n)
                       for l in range(len(net.layers))]

    @staticmethod
    def _layer_state(net, l, labels, row_cond, n):
        """Layer ``l``'s matrices and per-image biases."""
        layer = net.layers[l]
        label_v = (layer.v_label(labels) if layer.v_label is not None
                   else bias_of(layer.link).new_zeros(n, 2 * layer.n_hidden))
        label_h = layer.h_label(labels) if layer.h_label is not None else 0.0
        # the link's bias and the label bias of the horizontal stack are per image
        h_bias = (bias_of(layer.horizontal) + bias_of(layer.link) + label_h).expand(
            n, -1).contiguous()                                                 # (B, 2p)
        return dict(
            layer=layer, label_v=label_v[:, :, None, None], h_bias=h_bias,
            row_v=None if row_cond is None else net.row_maps[l](row_cond),    # (B, 2p, H)
            hw=layer.horizontal.kernel_size[1],
            w_h=conv_matrix(layer.horizontal.masked_weight()),
            w_link=layer.link.weight[:, :, 0, 0].T.contiguous(),
            w_out=conv_matrix(layer.out.masked_weight()), b_out=bias_of(layer.out),
            link=None, hrow=None)

    def begin_row(self, i):
        """Vertical stacks of row ``i`` (all columns), their links, fresh horizontal rows."""
        if i > self.first_row:
            for rows in self.vrows:
                rows.next_row()
        n, w = self.image.buf.shape[0], self.width
        below = self.image.buf[:, :-1]                    # image rows above row i only
        for l, st in enumerate(self.layers):
            layer = st["layer"]
            strip = below.permute(0, 3, 1, 2)                           # (B, C_in, kh, W + pad)
            zv = F.conv2d(strip, layer.vertical.weight, layer.vertical.bias) + st["label_v"]
            if st["row_v"] is not None:
                zv = zv + st["row_v"][:, :, i, None, None]                      # (B, 2p, 1, W)
            st["link"] = torch.addmm(
                st["h_bias"][:, None].expand(-1, w, -1).reshape(n * w, -1),
                zv[:, :, 0].transpose(1, 2).reshape(n * w, -1),
                st["w_link"]).view(n, w, -1)                                    # (B, W, 2p)
            if l + 1 < len(self.layers):
                nxt = self.vrows[l + 1]
                nxt.put_row(gated_activation(zv)[:, :, 0].transpose(1, 2))        # (B, W, p)
                below = nxt.buf
                # this layer's horizontal output: the next layer's input, padded on the left
                st["hrow"] = RowBuffer(zv.new_zeros(n, layer.n_hidden, 0, w), 1,
                                       self.layers[l + 1]["hw"] - 1, 0)

    def raw(self, i, j, x):
        self.put_pixel(i, j, x)
        inp, h = self.image, None
        for st in self.layers:
            win = inp.window(j, st["hw"], rows=slice(-1, None))                 # (B, hw*C_in)
            zh = torch.addmm(st["link"][:, j], win, st["w_h"])                  # (B, 2p)
            out = torch.addmm(st["b_out"], gated_activation(zh), st["w_out"])   # (B, p)
            h = out if st["layer"].first else h.add_(out)
            inp = st["hrow"]
            if inp is not None:
                inp.put(j, h)
        return self.output(h)                                                   # (B, P)
