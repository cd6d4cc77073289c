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
from torch import nn

from ..nn.gated import GatedPixelLayer
from ._image import (LevelImageNetwork, PixelStepper, RowBuffer, bias_of, colour_ids,
                     conv_matrix, level_heads, level_output, with_bias)


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
class _GatedCache(PixelStepper):
    """Cached generation: vertical stacks computed a row at a time, horizontal stacks a pixel
    at a time.

    Buffers: the image's last ``input_kernel_size // 2`` rows plus the current row; each
    later layer's vertical input (the previous layer's vertical output) over its last
    ``kernel_size // 2`` rows plus the current row; and each layer's horizontal output in the
    current row, the next layer's horizontal input. ``begin_row`` computes every layer's link
    for the whole row (with the horizontal biases); a pixel then runs, per layer, the
    horizontal conv as one matmul, the gate and the 1x1 conv with the residual.

    The filter halves of the horizontal pre-activations are computed doubled (their weights
    and biases times 2, exact in floating point), so that the gate ``tanh(f) sigmoid(g) =
    (2 sigmoid(2f) - 1) sigmoid(g)`` is one sigmoid over both halves.
    """

    def __init__(self, net, x, first_row, labels, row_cond=None):
        super().__init__(net, x, first_row, net.layers[0].vertical.kernel_size[1])
        n, _, _, width = x.shape
        if first_row:
            maps = net.known_maps(x, first_row, labels, row_cond)
        else:
            maps = [x.new_zeros(n, layer.n_hidden, 0, width) for layer in net.layers]
        self.width = width
        # vertical input of every layer: the image, then the previous layer's vertical output
        self.vrows = [self.image]
        for layer, m in zip(net.layers[1:], maps):
            kh, kw = layer.vertical.kernel_size
            self.vrows.append(RowBuffer(m, kh, (kw - 1) // 2, kw // 2))
        self.layers = [self._layer_state(net, l, labels, row_cond, n, width)
                       for l in range(len(net.layers))]
        # horizontal input of every layer: the image row, then the previous layer's output
        # row, padded on the left (the last layer's output: one (B, p) tensor)
        inputs = [self.image]
        for st in self.layers[1:]:
            p = st["layer"].n_hidden
            inputs.append(RowBuffer(x.new_zeros(n, p, 0, width), 1, st["hw"] - 1, 0))
        self.h = x.new_empty(n, self.layers[-1]["layer"].n_hidden)
        self.steps = []
        for l, st in enumerate(self.layers):
            p = st["layer"].n_hidden
            gate = x.new_ones(n, p + 1)              # the gate's output and a column of ones
            sig = x.new_empty(n, 2 * p)
            outs = (inputs[l + 1].cells(width) if l + 1 < len(inputs) else [self.h] * width)
            self.steps.append((
                [st["link"][:, j] for j in range(width)],
                inputs[l].windows(width, st["hw"]), st["w_h"], x.new_empty(n, 2 * p),
                sig, sig[:, :p], sig[:, p:], x.new_full((n, p), -1.0), gate, gate[:, :p],
                st["w_out"], None if st["layer"].first else inputs[l].cells(width), outs))

    @staticmethod
    def _layer_state(net, l, labels, row_cond, n, width):
        """Layer ``l``'s matrices, per-image (and per-row) biases and row buffers."""
        layer = net.layers[l]
        p = layer.n_hidden
        b_v = bias_of(layer.vertical).expand(n, -1)
        if layer.v_label is not None:
            b_v = b_v + layer.v_label(labels)                                   # (B, 2p)
        b_v = b_v[:, None]                                                      # (B, 1, 2p)
        if row_cond is not None:
            b_v = b_v + net.row_maps[l](row_cond).transpose(1, 2)               # (B, H, 2p)
        label_h = layer.h_label(labels) if layer.h_label is not None else 0.0
        # the filter halves of both stacks doubled (see the class notes); the link reads the
        # doubled vertical filter half, so its rows there are halved
        double = torch.ones(2 * p, dtype=b_v.dtype, device=b_v.device)
        double[:p] = 2.0
        # the link's bias and the label bias of the horizontal stack are per image
        h_bias = (bias_of(layer.horizontal) + bias_of(layer.link) + label_h) * double
        w_link = layer.link.weight[:, :, 0, 0].T / double[:, None] * double
        return dict(
            layer=layer, v_rows=layer.vertical.kernel_size[0], b_v=(b_v * double).contiguous(),
            w_v=conv_matrix(layer.vertical.weight.detach()) * double,
            zv=b_v.new_empty(n, width, 2 * p),
            h_bias=h_bias.expand(n, -1)[:, None].expand(-1, width, -1).reshape(n * width, -1),
            hw=layer.horizontal.kernel_size[1],
            w_h=(conv_matrix(layer.horizontal.masked_weight()) * double).contiguous(),
            w_link=w_link.contiguous(),
            w_out=with_bias(conv_matrix(layer.out.masked_weight()), bias_of(layer.out)),
            link=b_v.new_empty(n, width, 2 * p))                              # (B, W, 2p)

    def begin_row(self, i):
        """Vertical stacks of row ``i`` (all columns) and their links."""
        if i > self.first_row:
            for rows in self.vrows:
                rows.advance()
        n, w = self.image.buf.shape[0], self.width
        for l, st in enumerate(self.layers):
            # layer 0 reads the image rows above row i, the others their input's last rows
            b_v = st["b_v"][:, min(i, st["b_v"].shape[1] - 1)]
            zv = self.vrows[l].conv_rows(st["w_v"], st["v_rows"], b_v, st["zv"])  # (B, W, 2p)
            torch.addmm(st["h_bias"], zv.view(n * w, -1), st["w_link"],
                        out=st["link"].view(n * w, -1))                         # (B, W, 2p)
            if l + 1 < len(self.layers):
                sig = torch.sigmoid(zv)                                     # (B, W, 2p)
                f, g = sig.chunk(2, dim=-1)
                self.vrows[l + 1].put_row(f.mul(2.0).sub_(1.0).mul_(g))     # (B, W, p)

    def _hidden(self, j):
        for (links, windows, w_h, zh, sig, sig_f, sig_g, minus_one, gate, gate_view, w_out,
             residual, outs) in self.steps:
            torch.addmm(links[j], windows[j], w_h, out=zh)             # (B, 2p): 2f, g
            torch.sigmoid(zh, out=sig)
            torch.add(minus_one, sig_f, alpha=2.0, out=gate_view)      # tanh(f)
            gate_view.mul_(sig_g)                                      # (B, p)
            if residual is None:
                torch.mm(gate, w_out, out=outs[j])
            else:
                torch.addmm(residual[j], gate, w_out, out=outs[j])     # (B, p) into the row
        return self.h
