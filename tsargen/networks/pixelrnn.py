"""PixelRNN (Row LSTM and Diagonal BiLSTM) for images of integer levels.

van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural Networks"
(arXiv:1601.06759), §3 and Figure 4: a 7x7 masked convolution (mask A), then ``n_layers``
spatial LSTM layers with residual connections, then ReLU, 1x1 conv, ReLU, 1x1 conv (mask B) and
one ``n_levels``-way softmax per sub-pixel. Every layer's input and output map has ``2h``
features (``hidden_channels``); its LSTM has ``h`` units per direction, and a 1x1 conv (mask B)
maps the LSTM output back to ``2h`` features, added to the layer input. Each map is split into
one channel group per colour; the colour masks (R sees the previous pixels, G also R, B also R
and G of the same pixel) sit in the input conv, in every input-to-state conv (so in every gate)
and in the 1x1 convs.

* ``kind="row_lstm"`` (:class:`~tsargen.nn.recurrent.RowLSTM`): rows one at a time, ``1 x k``
  input-to-state and state-to-state convs. Its receptive field is a *triangle* above the
  pixel, by design: with ``r0 = input_kernel_size // 2``, ``s = kernel_size // 2`` and ``L``
  layers, pixel ``(i, j)`` depends on row ``i`` at columns ``j - r0 - L s .. j - 1`` and on row
  ``i - d`` (``d >= 1``) at columns ``j - r0 - (d + L) s .. j + max(r0 + (d - 1) s, d s - 1)``
  (e.g. ``j - 3 - d - L .. j + d + 2`` with the default kernels), and on no other pixel.
* ``kind="diagonal_bilstm"`` (:class:`~tsargen.nn.recurrent.DiagonalBiLSTM`): skewed
  column-wise LSTMs in both directions; pixel ``(i, j)`` depends on *every* pixel before it:
  all rows above, and row ``i`` to the left.

Class labels (``n_classes > 0``) and per-row covariates (``n_row_features > 0``, ``row_cond (B,
F, H)``, e.g. the time features of a signal-image) add a bias to the gates of every layer: a
label embedding, and a 1x1 map of the row's covariates broadcast along the row.

Generation carries the LSTM states. Row LSTM: at the start of a row each layer's
state-to-state term is computed from the previous row's states; a pixel then runs the
input-to-state conv, the LSTM cell and the 1x1 convs at that pixel only. Diagonal BiLSTM: the
left-to-right state at ``(i, j)`` needs the states at ``(i - 1, j)`` and ``(i, j - 1)`` only, so
a pixel costs one cell step per layer; the right-to-left direction of row ``i - 1`` (which row
``i`` sees through the shift) is run once when row ``i`` starts. ``naive=True`` re-runs the
whole network over the whole image for every sub-pixel (the reference for tests).

NOTE (skip connections): the paper also adds learnable 1x1 skip connections from every layer to
the output (§3.3); here only the residual connections are used, and the output convs read the
last layer's map.
NOTE (input): the levels ``0..n_levels-1`` enter the network rescaled to ``[-1, 1]``.
NOTE (kernel sizes): the input conv is ``input_kernel_size`` (7 in the paper, odd); the Row
LSTM's ``kernel_size`` is the paper's ``k = 3`` by default (odd). The paper writes the Row
LSTM's input-to-state kernel as ``k x 1``; here it is ``1 x k`` along the row (the same conv,
with width along the row), masked with mask B.
NOTE (labels, covariates): the paper's PixelRNN is unconditional; the label embedding
(initialised at zero) and the covariate map are gate biases as in conditional PixelCNN.
NOTE (binary images): the paper uses a sigmoid for binary MNIST; ``n_levels=2`` gives a 2-way
softmax, the same family.
NOTE (Diagonal BiLSTM, no hole): in the paper every map of row ``i - 1`` is masked, so none
holds the last pixel ``(i - 1, W - 1)``, and the right-to-left states that row ``i`` sees
through the shift miss it: pixel ``(i, j)`` would not see ``(i - 1, W - 1)`` unless ``j >= W -
1 - input_kernel_size // 2``. Here the right-to-left gates of every layer also read the (scaled)
image at their pixel through an unmasked 1x1 conv, which is causal because those states are
only used one row below; the field is then the whole causal context.
NOTE (Diagonal BiLSTM states): the states at the skew's padding are held at zero, so every row
starts (left to right, or right to left) from a zero state, as the top row does.
"""

import math

import torch
from torch import nn

from ..nn.masked import MaskedConv2d
from ..nn.recurrent import DiagonalBiLSTM, RowLSTM, lstm_cell
from ._image import (CachedStepper, LevelImageNetwork, RowBuffer, bias_of, colour_ids,
                     conv_matrix, level_heads, level_output)

KINDS = ("row_lstm", "diagonal_bilstm")


class PixelRNNLayer(nn.Module):
    """One residual LSTM layer: ``(B, 2h, H, W) -> (B, 2h, H, W)``.

    ``x + up(LSTM(x))``, where ``up`` is a 1x1 conv (mask B) from the ``h`` LSTM units to the
    ``2h`` features, and the LSTM's gates get a label and a per-row covariate bias.

    Parameters
    ----------
    kind : {"row_lstm", "diagonal_bilstm"}
    outer_ids, unit_ids : list of int
        Colour group of every one of the ``2h`` features and ``h`` LSTM units.
    kernel_size : int
        Row LSTM kernel width.
    n_classes, n_row_features : int
        Labels and per-row covariates for the gate biases (0 for none).
    n_channels : int
        Colour channels of the image the Diagonal BiLSTM's right-to-left direction reads.
    """

    def __init__(self, kind, outer_ids, unit_ids, kernel_size=3, n_classes=0, n_row_features=0,
                 n_channels=1):
        super().__init__()
        self.kind = kind
        if kind == "row_lstm":
            self.lstm = RowLSTM(outer_ids, unit_ids, kernel_size)
        else:
            self.lstm = DiagonalBiLSTM(outer_ids, unit_ids, context_channels=n_channels)
        n_gates = self.lstm.input_to_state.out_channels
        self.up = MaskedConv2d(unit_ids, outer_ids, "B", 1)
        self.label_bias = nn.Embedding(n_classes, n_gates) if n_classes else None
        if n_classes:
            nn.init.zeros_(self.label_bias.weight)
        self.row_bias = (nn.Conv1d(n_row_features, n_gates, 1, bias=False)
                         if n_row_features else None)

    def gate_bias(self, labels, row_cond):
        """Extra gate bias ``(B, G, H or 1, 1)``, or None."""
        bias = None
        if self.label_bias is not None:
            bias = self.label_bias(labels)[:, :, None, None]
        if self.row_bias is not None:
            rows = self.row_bias(row_cond)[:, :, :, None]                   # (B, G, H, 1)
            bias = rows if bias is None else bias + rows
        return bias

    def forward(self, x, image, labels=None, row_cond=None, keep=False):
        """Layer output for the layer input ``x (B, 2h, H, W)`` and the scaled ``image (B, C,
        H, W)``, and with ``keep`` the LSTM's states (for cached generation)."""
        bias = self.gate_bias(labels, row_cond)
        if self.kind == "row_lstm":
            h, c = self.lstm(x, bias, return_cells=True)
            states = (h, c)
        else:
            h, states = self.lstm(x, bias, image, return_directions=True)
        out = x + self.up(h)
        return (out, states) if keep else out


class PixelRNN(LevelImageNetwork):
    """PixelRNN: masked input conv, residual Row LSTM or Diagonal BiLSTM layers, softmax per
    sub-pixel.

    Parameters
    ----------
    n_channels : int
        Colour channels ``C``.
    n_levels : int
        Levels per sub-pixel.
    kind : {"row_lstm", "diagonal_bilstm"}
    n_layers : int
        LSTM layers.
    hidden_channels : int
        Features ``2h`` between layers; each LSTM has ``hidden_channels // 2`` units (per
        direction).
    kernel_size : int
        Odd Row LSTM kernel width (unused by the Diagonal BiLSTM).
    input_kernel_size : int
        Odd kernel size of the mask-A input conv.
    n_classes : int
        Number of labels (class-conditional model); 0 for none.
    n_row_features : int
        Per-row covariates ``row_cond (B, F, H)``; 0 for none.

    Attributes
    ----------
    receptive_field : float
        ``math.inf``: the LSTM states carry every row above (see the module docstring for the
        exact field of each kind).
    heads : HeadSet

    Examples
    --------
    >>> net = PixelRNN(n_channels=3, n_levels=4, kind="diagonal_bilstm", n_layers=1,
    ...                hidden_channels=12)
    >>> x = torch.randint(0, 4, (2, 3, 5, 6)).float()           # (B, C, H, W) levels
    >>> net(x).shape                                             # (B, C * n_levels, H, W)
    torch.Size([2, 12, 5, 6])
    >>> net.log_prob(x).shape
    torch.Size([2, 3, 5, 6])
    >>> net.generate(2, 4, 4).shape
    torch.Size([2, 3, 4, 4])
    """

    def __init__(self, n_channels=1, n_levels=256, kind="row_lstm", n_layers=2,
                 hidden_channels=32, kernel_size=3, input_kernel_size=7, n_classes=0,
                 n_row_features=0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self._keep_config(dict(n_channels=n_channels, n_levels=n_levels, kind=kind,
                               n_layers=n_layers, hidden_channels=hidden_channels,
                               kernel_size=kernel_size, input_kernel_size=input_kernel_size,
                               n_classes=n_classes, n_row_features=n_row_features),
                          n_row_features)
        c, self.kind = n_channels, kind
        self.heads = level_heads(c, n_levels)
        outer = colour_ids(hidden_channels, c)                      # 2h features
        units = colour_ids(hidden_channels // 2, c)                 # h LSTM units
        self.input = MaskedConv2d(list(range(c)), outer, "A", input_kernel_size)
        self.layers = nn.ModuleList(
            PixelRNNLayer(kind, outer, units, kernel_size, n_classes, n_row_features, c)
            for _ in range(n_layers))
        self.out1, self.out2 = level_output(outer, c, n_levels)
        self.receptive_field = math.inf

    def _forward(self, x, labels, row_cond, keep=False):
        """Logits ``(B, C*L, H, W)`` of ``x (B, C, H, W)`` levels, and with ``keep`` every
        layer's LSTM states (for caching)."""
        image = self.scale(x)
        h = self.input(image)                                               # (B, 2h, H, W)
        kept = [] if keep else None
        for layer in self.layers:
            if keep:
                h, states = layer(h, image, labels, row_cond, keep=True)
                kept.append(states)
            else:
                h = layer(h, image, labels, row_cond)
        return self.logits(h), kept

    def _cache(self, x, first_row, labels, row_cond):
        cache = _RowLSTMCache if self.kind == "row_lstm" else _DiagonalCache
        return cache(self, x, first_row, labels, row_cond)


# ---------------------------------------------------------------------- cached generation
class _Cache(CachedStepper):
    """Shared part of the two cached steppers: the input conv at one pixel, per-layer gate
    biases and ``1x1`` up convs; ``self.layers`` holds each layer's state (:meth:`_layer`)."""

    def __init__(self, net, x, first_row, labels, row_cond):
        k_in = net.input.kernel_size[0]
        super().__init__(net, x, first_row, k_in)
        n, _, height, width = x.shape
        self.n, self.width = n, width
        self.w_in, self.b_in, self.k_in = (
            conv_matrix(net.input.masked_weight()[:, :, :k_in // 2 + 1]), bias_of(net.input),
            k_in)
        # gate bias of every layer for every row, channels last: (B, H, G)
        self.gate_bias = []
        for layer in net.layers:
            bias = bias_of(layer.lstm.input_to_state).expand(n, height, -1)
            extra = layer.gate_bias(labels, row_cond)                       # (B, G, H|1, 1)
            if extra is not None:
                bias = bias + extra[:, :, :, 0].transpose(1, 2)
            self.gate_bias.append(bias.contiguous())
        self.ups = [(conv_matrix(layer.up.masked_weight()), bias_of(layer.up))
                    for layer in net.layers]
        # every layer's LSTM states over the known rows, (B, u, H0, W) each, or None
        kept = (net.known_maps(x, first_row, labels, row_cond) if first_row
                else [None] * len(net.layers))
        self.layers = [self._layer(layer.lstm, states, x) for layer, states in
                       zip(net.layers, kept)]

    def input_conv(self, i, j, x):
        self.put_pixel(i, j, x)
        return torch.addmm(self.b_in, self.image.window(j, self.k_in), self.w_in)   # (B, 2h)


class _RowLSTMCache(_Cache):
    """Row LSTM: each layer keeps the previous row's hidden and cell states ``(B, W, u)``; a
    new row computes its state-to-state term once; a pixel runs every layer at that pixel."""

    def _layer(self, lstm, states, x):
        n, w = self.n, self.width
        u, s = lstm.n_units, lstm.kernel_size // 2
        if states is not None:
            h, c = states                                                   # (B, u, H0, W)
            h_prev, c_prev = h[:, :, -1], c[:, :, -1]                       # (B, u, W)
        else:
            h_prev = c_prev = x.new_zeros(n, u, w)
        return dict(
            lstm=lstm, s=s, h_prev=h_prev, c_prev=c_prev.transpose(1, 2).contiguous(),
            h_cur=x.new_zeros(n, w, u), c_cur=x.new_zeros(n, w, u),
            row=RowBuffer(x.new_zeros(n, lstm.input_to_state.in_channels, 0, w), 1, s, 0),
            w_is=conv_matrix(lstm.input_to_state.masked_weight()[:, :, :, :s + 1]),
            ss=None)

    def begin_row(self, i):
        if i > self.first_row:
            self.image.next_row()
        for l, st in enumerate(self.layers):
            if i > self.first_row:
                st["h_prev"] = st["h_cur"].transpose(1, 2)                  # (B, u, W)
                st["c_prev"], st["c_cur"] = st["c_cur"], torch.zeros_like(st["c_cur"])
                st["h_cur"] = torch.zeros_like(st["h_cur"])
                st["row"].next_row()
            ss = st["lstm"].state_to_state(st["h_prev"])                    # (B, 4u, W)
            st["ss"] = (ss.transpose(1, 2) + self.gate_bias[l][:, i, None]).contiguous()

    def raw(self, i, j, x):
        z = self.input_conv(i, j, x)                                        # (B, 2h)
        for st, (w_up, b_up) in zip(self.layers, self.ups):
            st["row"].put(j, z)
            gates = torch.addmm(st["ss"][:, j], st["row"].window(j, st["s"] + 1), st["w_is"])
            h, c = lstm_cell(gates, st["c_prev"][:, j])                     # (B, u)
            st["c_cur"][:, j], st["h_cur"][:, j] = c, h
            z = torch.addmm(z, h, w_up).add_(b_up)                          # (B, 2h)
        return self.output(z)


class _DiagonalCache(_Cache):
    """Diagonal BiLSTM: each layer keeps the left-to-right states of the previous row and of
    the current row (left of the pixel), and the right-to-left states of the previous row
    (what the shifted direction adds to the current row), computed when the row starts."""

    def _layer(self, lstm, states, x):
        n, w, u = self.n, self.width, lstm.n_units
        if states is not None:
            h_lr, h_rl = states                                             # (B, u, H0, W)
            lr_prev = h_lr[:, :, -1].transpose(1, 2).contiguous()           # (B, W, u)
            rl_prev = h_rl[:, :, -1].transpose(1, 2).contiguous()
        else:
            lr_prev = rl_prev = x.new_zeros(n, w, u)
        w_is = lstm.input_to_state.masked_weight()[:, :, 0, 0]              # (8u, 2h)
        w_ss = lstm.state_to_state.weight                                   # (8u, u, 2)
        return dict(
            u=u, lr_prev=lr_prev, rl_prev=rl_prev,
            lr_h=x.new_zeros(n, w, u), lr_c=x.new_zeros(n, w, u),
            inputs=x.new_zeros(n, w, lstm.input_to_state.in_channels),
            w_is_lr=w_is[:4 * u].T.contiguous(), w_is_rl=w_is[4 * u:].T.contiguous(),
            w_ctx=lstm.context_to_state.weight[:, :, 0, 0].T.contiguous(),        # (C, 4u)
            up_lr=w_ss[:4 * u, :, 0].T.contiguous(), left_lr=w_ss[:4 * u, :, 1].T.contiguous(),
            up_rl=w_ss[4 * u:, :, 0].T.contiguous(), side_rl=w_ss[4 * u:, :, 1].T.contiguous(),
            above=None)

    def _right_to_left(self, l, st, r, image):
        """Right-to-left states of row ``r`` from its layer inputs, its scaled image row
        ``image (B, W, C)`` and the states of row ``r - 1``: ``(B, W, u)``."""
        n, w, u = self.n, self.width, st["u"]
        pre = (st["inputs"] @ st["w_is_rl"] + image @ st["w_ctx"] + st["rl_prev"] @ st["up_rl"]
               + self.gate_bias[l][:, r, None, 4 * u:])                     # (B, W, 4u)
        h = c = pre.new_zeros(n, u)
        out = pre.new_empty(n, w, u)
        for j in range(w - 1, -1, -1):
            h, c = lstm_cell(torch.addmm(pre[:, j], h, st["side_rl"]), c)   # (B, u)
            out[:, j] = h
        return out

    def begin_row(self, i):
        if i > self.first_row:
            left = self.image.left
            image = self.image.buf[:, -1, left:left + self.width]           # (B, W, C) row i-1
            self.image.next_row()
        for l, st in enumerate(self.layers):
            u = st["u"]
            if i > self.first_row:
                st["rl_prev"] = self._right_to_left(l, st, i - 1, image)
                st["lr_prev"] = st["lr_h"]
                st["lr_h"], st["lr_c"] = torch.zeros_like(st["lr_h"]), torch.zeros_like(
                    st["lr_c"])
            st["above"] = (st["lr_prev"] @ st["up_lr"]
                           + self.gate_bias[l][:, i, None, :4 * u])         # (B, W, 4u)

    def raw(self, i, j, x):
        z = self.input_conv(i, j, x)                                        # (B, 2h)
        for st, (w_up, b_up) in zip(self.layers, self.ups):
            st["inputs"][:, j] = z
            gates = torch.addmm(st["above"][:, j], z, st["w_is_lr"])        # (B, 4u)
            if j > 0:
                gates = torch.addmm(gates, st["lr_h"][:, j - 1], st["left_lr"])
                c_left = st["lr_c"][:, j - 1]
            else:
                c_left = 0.0
            h, c = lstm_cell(gates, c_left)                                 # (B, u)
            st["lr_c"][:, j], st["lr_h"][:, j] = c, h
            h = h + st["rl_prev"][:, j]                      # the right-to-left row above
            z = torch.addmm(z, h, w_up).add_(b_up)                          # (B, 2h)
        return self.output(z)
