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

from ..nn.causal import group_ids
from ..nn.gated import GatedPixelLayer, gated_activation
from ..nn.heads import HeadSet
from ..nn.masked import MaskedConv2d
from .pixelcnn import (LevelImageNetwork, NaiveStepper, RowBuffer, bias_of, colour_ids,
                       conv_matrix, level_heads, sample_raster, start_image)


def gated_layer_with_row_bias(layer, v, h, labels, row_bias):
    """:class:`GatedPixelLayer`'s forward with ``row_bias (B, 2p, H)`` added to the vertical
    pre-activations: ``(v, h) -> (v_out, h_out)``, ``(B, p, H, W)`` each."""
    zv = layer.vertical_pre(v, labels) + row_bias[:, :, :, None]           # (B, 2p, H, W)
    zh = layer.horizontal(h) + layer.link(zv)
    if layer.h_label is not None:
        zh = zh + layer.h_label(labels)[:, :, None, None]
    h_out = layer.out(gated_activation(zh))
    return gated_activation(zv), h_out if layer.first else h + h_out


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
        self.config = dict(n_channels=n_channels, n_levels=n_levels, n_layers=n_layers,
                           hidden_channels=hidden_channels, kernel_size=kernel_size,
                           input_kernel_size=input_kernel_size, n_classes=n_classes)
        if n_row_features:                  # only when used: older saved configs stay valid
            self.config["n_row_features"] = n_row_features
        c = self.n_channels = n_channels
        self.n_levels, self.n_classes, self.n_row_features = n_levels, n_classes, n_row_features
        self.heads = HeadSet(level_heads(c, n_levels))
        hidden = colour_ids(hidden_channels, c)
        params = group_ids([n_levels] * c).tolist()
        self.layers = nn.ModuleList(
            [GatedPixelLayer(list(range(c)), hidden, input_kernel_size, True, n_classes)]
            + [GatedPixelLayer(hidden, hidden, kernel_size, False, n_classes)
               for _ in range(n_layers)])
        self.out1 = MaskedConv2d(hidden, hidden, "B", 1)
        self.out2 = MaskedConv2d(hidden, params, "B", 1)
        self.row_maps = nn.ModuleList(
            nn.Conv1d(n_row_features, 2 * len(hidden), 1, bias=False)
            for _ in self.layers) if n_row_features else None
        self.receptive_field = input_kernel_size // 2 + n_layers * (kernel_size // 2)

    # ------------------------------------------------------------------ full forward pass
    def forward(self, x, labels=None, row_cond=None):
        """``x (B, C, H, W)`` levels (float), ``labels (B,)``, ``row_cond (B, F, H)`` -> raw
        logits ``(B, C*L, H, W)``."""
        return self._forward(x, self.check_labels(labels),
                             self.check_row_cond(row_cond, x.shape[0], x.shape[2]))[0]

    def _forward(self, x, labels, row_cond=None, keep=False):
        """Logits, and with ``keep`` every layer's vertical output (for caching)."""
        v = h = self.scale(x)
        maps = [v] if keep else None
        for l, layer in enumerate(self.layers):
            if row_cond is None:
                v, h = layer(v, h, labels)                                  # (B, p, H, W)
            else:
                v, h = gated_layer_with_row_bias(layer, v, h, labels,
                                                 self.row_maps[l](row_cond))
            if keep:
                maps.append(v)
        return self.out2(F.relu(self.out1(F.relu(h)))), maps

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(self, n, height, width, labels=None, known=None, naive=False, row_cond=None):
        """Sample ``n`` images ``(n, C, height, width)`` of levels, in raster order.

        Same contract as :meth:`tsargen.networks.pixelcnn.PixelCNN.generate`: ``known`` rows
        are kept, ``labels`` and ``row_cond (n, F, height)`` condition the draws, torch's
        global generator supplies the randomness, ``naive=True`` is the full-recompute
        reference.
        """
        labels = self.check_labels(labels)
        row_cond = self.check_row_cond(row_cond, n, height)
        x, first = start_image(self, n, height, width, known)
        return sample_raster(self, x, first, self.stepper(x, first, labels, naive, row_cond))

    @torch.no_grad()
    def stepper(self, x, first_row, labels=None, naive=False, row_cond=None):
        """The per-pixel logits source :func:`sample_raster` drives, for an image ``x (B, C,
        H, W)`` whose rows ``< first_row`` are known: cached, or naive (full recompute)."""
        return NaiveStepper(self, labels, row_cond) if naive else _GatedCache(
            self, x, first_row, labels, row_cond)


class _GatedCache:
    """Cached generation: vertical stacks computed a row at a time, horizontal stacks a pixel
    at a time (Ramachandran et al. 2017).

    Buffers: the image's last ``input_kernel_size // 2`` rows plus the current row; each
    layer's vertical output over its last ``kernel_size // 2`` rows plus the current row; and
    each layer's horizontal output in the current row.
    """

    def __init__(self, net, x, first_row, labels, row_cond=None):
        n, _, _, width = x.shape
        known = x[:, :, :first_row]
        if first_row:
            maps = net._forward(known, labels, None if row_cond is None else
                                row_cond[:, :, :first_row], keep=True)[1]
        else:
            maps = [net.scale(known)] + [known.new_zeros(n, lay.n_hidden, 0, width)
                                         for lay in net.layers]
        self.net, self.first_row, self.width = net, first_row, width
        self.vrows, self.layers = [], []
        for l, (layer, m) in enumerate(zip(net.layers, maps)):
            kh, kw = layer.vertical.kernel_size
            hw = layer.horizontal.kernel_size[1]
            n_rows = kh + 1 if layer.first else kh        # first layer: rows above + current
            self.vrows.append(RowBuffer(m, n_rows, (kw - 1) // 2, kw // 2))
            label_v = (layer.v_label(labels) if layer.v_label is not None
                       else bias_of(layer.link).new_zeros(n, 2 * layer.n_hidden))
            label_h = (layer.h_label(labels) if layer.h_label is not None else 0.0)
            # the link's bias and the label bias of the horizontal stack are per image
            h_bias = (bias_of(layer.horizontal) + bias_of(layer.link) + label_h).expand(
                n, -1).contiguous()
            row_v = None if row_cond is None else net.row_maps[l](row_cond)  # (B, 2p, H)
            self.layers.append(dict(
                layer=layer, label_v=label_v[:, :, None, None], row_v=row_v, h_bias=h_bias,
                hw=hw,
                w_h=conv_matrix(layer.horizontal.masked_weight()),
                w_link=layer.link.weight[:, :, 0, 0].T.contiguous(),
                w_out=conv_matrix(layer.out.masked_weight()), b_out=bias_of(layer.out),
                link=None, hrow=None))
        self.out = (conv_matrix(net.out1.masked_weight()), bias_of(net.out1),
                    conv_matrix(net.out2.masked_weight()), bias_of(net.out2))
        self.image = self.vrows[0]

    def begin_row(self, i):
        """Vertical stacks of row ``i`` (all columns), their links, fresh horizontal rows."""
        if i > self.first_row:
            for rows in self.vrows:
                rows.next_row()
        below = self.image.buf[:, :-1]                    # image rows above row i only
        n = below.shape[0]
        for l, st in enumerate(self.layers):
            layer = st["layer"]
            strip = below.permute(0, 3, 1, 2)                         # (B, C_in, kh, W + pad)
            zv = F.conv2d(strip, layer.vertical.weight, layer.vertical.bias) + st["label_v"]
            if st["row_v"] is not None:
                zv = zv + st["row_v"][:, :, i, None, None]                 # (B, 2p, 1, 1)
            st["link"] = torch.addmm(st["h_bias"][:, None].expand(-1, self.width, -1).reshape(
                n * self.width, -1), zv[:, :, 0].transpose(1, 2).reshape(n * self.width, -1),
                st["w_link"]).view(n, self.width, -1)                  # (B, W, 2p)
            v = gated_activation(zv)[:, :, 0].transpose(1, 2)        # (B, W, p)
            if l + 1 < len(self.layers):
                nxt = self.vrows[l + 1]
                nxt.buf[:, -1, nxt.left:nxt.left + self.width] = v
                below = nxt.buf
            if l + 1 < len(self.layers):                  # padded for the next layer's conv
                pad = self.layers[l + 1]["hw"] - 1
                st["hrow"] = RowBuffer(zv.new_zeros(n, layer.n_hidden, 0, self.width), 1,
                                       pad, 0)

    def raw(self, i, j, x):
        self.image.put(j, self.net.scale(x[:, :, i, j]))      # drawn colours; others unseen
        inp = self.image
        h = None
        for st in self.layers:
            layer = st["layer"]
            win = inp.window(j, st["hw"], rows=slice(-1, None))                 # (B, hw*C_in)
            zh = torch.addmm(st["link"][:, j], win, st["w_h"])                  # (B, 2p)
            out = torch.addmm(st["b_out"], gated_activation(zh), st["w_out"])   # (B, p)
            h = out if layer.first else h.add_(out)
            inp = st["hrow"]
            if inp is not None:
                inp.put(j, h)
        w1, b1, w2, b2 = self.out
        return torch.addmm(b2, torch.addmm(b1, F.relu(h), w1).relu_(), w2)     # (B, P)

    def end_pixel(self, i, j, x):
        self.image.put(j, self.net.scale(x[:, :, i, j]))
