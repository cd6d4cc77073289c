"""PixelCNN++ for images of integer levels, optionally class- or row-conditional.

Salimans, Karpathy, Chen and Kingma 2017, "PixelCNN++: Improving the PixelCNN with Discretized
Logistic Mixture Likelihood and Other Modifications" (arXiv:1701.05517):

* §2.1-2.2 likelihood: a discretized logistic mixture over the whole pixel with a linear
  dependence between its colours (:class:`tsargen.nn.pixel_mixture.PixelLogisticMixture`);
  the network output at a pixel never sees that pixel, so there are no colour masks.
* no masks: two streams of shifted convs. ``u`` (down-shifted, ``2x3`` kernels) sees the
  rows above; ``ul`` (down-right-shifted, ``2x2`` kernels) sees the rows above and the pixels to
  the left, and also reads ``u``. Together they have no blind spot.
* §2.3 downsampling: three stages, with stride-2 convs between them on the way down (full, 1/2,
  1/4 resolution) and stride-2 transposed convs on the way up.
* §2.4 short-cut connections: every block of the up pass reads the output of the matching block
  of the down pass (as in a U-net).
* §2.5 regularisation: dropout inside every gated residual block
  (:class:`tsargen.nn.resnet.GatedResnet`: concatenated ELUs, a ``a * sigmoid(b)`` gate).
* conditioning: a label embedding (the paper's ``h`` projected per block) and, optionally,
  per-row covariates ``row_cond (B, F, H)`` projected by a 1x1 map; both are added to every
  block's gate pre-activations (rows broadcast along the width; at a coarser stage row ``I``
  gets the covariates of fine row ``2^s I``, so pixel row ``i`` only ever reads covariate rows
  ``<= i``).

Generation caches per-layer activations (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models", arXiv:1704.06001), see :class:`_PixelCache`: a map
position ``(I, J)`` at resolution ``1/s`` depends only on the pixels before ``(sI, sJ)``, so at
pixel ``(i, j)`` every ``ul`` layer computes exactly the positions ``(i/s, j/s)`` of the
resolutions ``s`` that divide ``i`` and ``j``, reading the previous and current row of its input
from small buffers. One pass per pixel gives all its colours (the output never reads its own
pixel; the colours are then drawn one after the other from the mixture). The naive twin
(``naive=True``) runs the full network over the whole image for every pixel. On one CPU thread,
a 28x28 greyscale image at batch 1 with the density's default architecture (256 levels) took
0.57 s cached against 15 s naive, with identical draws.

NOTE (u stream): the ``u`` stream (rows above only) is carried row by row (:class:`_URows`):
at row ``i`` every ``u`` map at resolution ``1/s``, ``s`` dividing ``i``, gets its row ``i / s``
from two-row buffers of its convs' inputs (and one tap row of a transposed conv), so its cost
per image is ``H * W`` like the ``ul`` stream's, not ``H * min(H, receptive_field) * W`` as
for a recomputation over the rows in reach at every row.
NOTE (image size): images whose height or width is not a multiple of 4 are padded internally
with zeros at the bottom and the right (for all channels, the constant-one channel included,
exactly as the convs' own zero padding); the outputs there are dropped. Padding after the last
row and column cannot reach earlier pixels, so this keeps the model autoregressive.
NOTE (training): no weight normalisation with data-dependent init and no learning-rate decay
(the estimator trains with plain Adam and early stopping); Polyak averaging of the weights, which
the paper used for evaluation (decay 0.9995), is the estimator's ``ema_decay`` and off by
default; the class and row biases of the blocks start at zero / at PyTorch's default init.
NOTE (row covariates): ``row_cond`` is a tsargen extension for signal-images (time = rows),
not in the paper; it is off (``n_row_features=0``) in :class:`~tsargen.PixelCNNPPDensity`.
NOTE (input): like the paper the input gets a constant channel of ones (so zero padding is
distinguishable from black); levels are mapped to ``[-1, 1]``.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.masked import (DownRightShiftedConv2d, DownRightShiftedConvTranspose2d,
                         DownShiftedConv2d, DownShiftedConvTranspose2d, down_shift, right_shift)
from ..nn.pixel_mixture import PixelLogisticMixture
from ..nn.resnet import GatedResnet, concat_elu
from ._image import LevelImageNetwork, conv_matrix

U_KERNEL, UL_KERNEL = (2, 3), (2, 2)


def _reach(n_layers, n_stages):
    """Upper bound on how far (in pixels) a pixel's distribution can look: rows above, and
    columns either side, following the layers of :class:`PixelCNNPP` (worst stride phase)."""
    u = [2, 1, 1]                        # rows up, columns left, columns right
    ul = [1, 1, 1]

    def conv(r, s, both):                # a 2-row conv at scale s (2x3 both sides, 2x2 left)
        return [r[0] + s, r[1] + s, r[2] + (s if both else 0)]

    def join(a, b):
        return [max(x, y) for x, y in zip(a, b)]

    def block(x, s, both, a=None):       # conv2(conv1(x) + nin(a)), plus x
        inner = conv(x, s, both) if a is None else join(conv(x, s, both), a)
        return conv(inner, s, both)

    ups, uls = [u], [ul]
    for stage in range(n_stages):
        s = 2 ** stage
        for _ in range(n_layers):
            u = block(u, s, True)
            ul = block(ul, s, False, u)
            ups.append(u), uls.append(ul)
        if stage < n_stages - 1:
            u, ul = conv(u, s, True), conv(ul, s, False)
            ups.append(u), uls.append(ul)
    u, ul = ups.pop(), uls.pop()
    for stage in reversed(range(n_stages)):
        s = 2 ** stage
        for _ in range(n_layers + (stage < n_stages - 1)):
            u = block(u, s, True, ups.pop())
            ul = block(ul, s, False, join(u, uls.pop()))
        if stage:
            u, ul = conv(u, s // 2, True), conv(ul, s // 2, False)
    return ul


class PixelCNNPP(LevelImageNetwork):
    """PixelCNN++: down-shifted / down-right-shifted streams over three resolutions, gated
    residual blocks, and a discretized logistic mixture per pixel.

    Parameters
    ----------
    n_channels : int
        Colour channels ``C``.
    n_levels : int
        Levels per sub-pixel (256 for uint8 images).
    n_layers : int
        Gated residual blocks per stage and stream (``nr_resnet``, 5 in the paper); the up
        pass has one more in its two finer stages (1/2 and full resolution), for the extra
        short-cut.
    hidden_channels : int
        Feature maps of every stream (160 in the paper).
    n_mixtures : int
        Logistic components per pixel (10 in the paper).
    dropout : float
        Dropout probability inside the blocks (0.5 in the paper); only active in training.
    n_classes : int
        Number of labels (class-conditional model); 0 for none.
    n_row_features : int
        Per-row covariates ``F`` (``row_cond (B, F, H)``); 0 for none.
    n_stages : int
        Resolutions (3 in the paper); the downsampling factor is ``2 ** (n_stages - 1)``.

    Attributes
    ----------
    receptive_field : int
        An upper bound on the rows above (and columns either side) a pixel's distribution
        depends on.
    factor : int
        The downsampling factor (images are padded internally to a multiple of it).
    likelihood : PixelLogisticMixture

    Examples
    --------
    >>> net = PixelCNNPP(n_channels=3, n_levels=8, n_layers=1, hidden_channels=8,
    ...                  n_mixtures=2, n_classes=4)
    >>> x = torch.randint(0, 8, (2, 3, 5, 6)).float()           # (B, C, H, W) levels
    >>> labels = torch.tensor([0, 3])
    >>> net(x, labels).shape                                     # (B, P, H, W), P = 10 M
    torch.Size([2, 20, 5, 6])
    >>> net.log_prob(x, labels).shape                            # (B, C, H, W) nats
    torch.Size([2, 3, 5, 6])
    >>> net.generate(2, 4, 4, labels=labels).shape               # sampled levels
    torch.Size([2, 3, 4, 4])
    """

    def __init__(self, n_channels=1, n_levels=256, n_layers=5, hidden_channels=160,
                 n_mixtures=10, dropout=0.5, n_classes=0, n_row_features=0, n_stages=3):
        super().__init__()
        self.config = dict(n_channels=n_channels, n_levels=n_levels, n_layers=n_layers,
                           hidden_channels=hidden_channels, n_mixtures=n_mixtures,
                           dropout=dropout, n_classes=n_classes, n_row_features=n_row_features,
                           n_stages=n_stages)
        c, nf = n_channels, hidden_channels
        self.n_channels, self.n_levels, self.n_classes = c, n_levels, n_classes
        self.n_row_features, self.n_stages = n_row_features, n_stages
        self.factor = 2 ** (n_stages - 1)
        self.likelihood = PixelLogisticMixture(c, n_levels, n_mixtures)

        # the input (C levels + a channel of ones) into the two streams
        self.u_init = DownShiftedConv2d(c + 1, nf, (2, 3))
        self.ul_init_v = DownShiftedConv2d(c + 1, nf, (1, 3))
        self.ul_init_h = DownRightShiftedConv2d(c + 1, nf, (2, 1))

        def u_block(aux):
            return GatedResnet(nf, DownShiftedConv2d, U_KERNEL, aux * nf, dropout)

        def ul_block(aux):
            return GatedResnet(nf, DownRightShiftedConv2d, UL_KERNEL, aux * nf, dropout)

        # down pass: n_layers blocks per stage, a stride-2 conv between stages
        self.down_u = nn.ModuleList(u_block(0) for _ in range(n_stages * n_layers))
        self.down_ul = nn.ModuleList(ul_block(1) for _ in range(n_stages * n_layers))
        self.down_u_stride = nn.ModuleList(DownShiftedConv2d(nf, nf, U_KERNEL, stride=2)
                                           for _ in range(n_stages - 1))
        self.down_ul_stride = nn.ModuleList(DownRightShiftedConv2d(nf, nf, UL_KERNEL, stride=2)
                                            for _ in range(n_stages - 1))
        # up pass: coarsest stage first; one extra block in each finer stage (more short-cuts)
        self.up_sizes = [n_layers + (s < n_stages - 1) for s in reversed(range(n_stages))]
        n_up = sum(self.up_sizes)
        self.up_u = nn.ModuleList(u_block(1) for _ in range(n_up))
        self.up_ul = nn.ModuleList(ul_block(2) for _ in range(n_up))
        self.up_u_stride = nn.ModuleList(DownShiftedConvTranspose2d(nf, nf, U_KERNEL, stride=2)
                                         for _ in range(n_stages - 1))
        self.up_ul_stride = nn.ModuleList(
            DownRightShiftedConvTranspose2d(nf, nf, UL_KERNEL, stride=2)
            for _ in range(n_stages - 1))
        self.out = nn.Conv2d(nf, self.likelihood.n_params, 1)

        # conditioning: one (2 nf)-vector per block and stream, added to the gate inputs
        self.n_blocks = n_stages * n_layers + n_up
        width = 2 * 2 * nf * self.n_blocks                    # (u, ul) x blocks x 2 nf
        self.label_bias = nn.Embedding(n_classes, width) if n_classes else None
        if n_classes:
            nn.init.zeros_(self.label_bias.weight)
        self.row_bias = nn.Conv1d(n_row_features, width, 1) if n_row_features else None
        self.receptive_field = max(_reach(n_layers, n_stages))

    # ------------------------------------------------------------------ inputs
    def _pad(self, t, dims):
        """Zero-pad the last ``dims`` axes of ``t`` at the end up to a multiple of the factor."""
        pads = []
        for size in reversed(t.shape[-dims:]):
            pads += [0, -size % self.factor]
        return F.pad(t, pads) if any(pads) else t

    def _prepare(self, x):
        """Levels ``(B, C, H, W)`` -> network input ``(B, C + 1, Hp, Wp)``: values in
        ``[-1, 1]`` and a channel of ones, zero-padded to multiples of the factor."""
        v = self.likelihood.values(x)
        return self._pad(torch.cat([v, torch.ones_like(v[:, :1])], dim=1), 2)

    def _biases(self, labels, row_cond, n_rows):
        """Conditioning biases ``(B, 2 blocks x 2nf, n_rows or 1, 1)`` (rows padded), or None."""
        bias = None
        if self.label_bias is not None:
            bias = self.label_bias(labels)[:, :, None, None]
        if self.row_bias is not None:
            rows = self._pad(self.row_bias(row_cond), 1)[:, :, :n_rows, None]
            bias = rows if bias is None else bias + rows
        return bias

    def _block_bias(self, bias, stream, block, scale):
        """The bias of one block (``stream`` 0 = u, 1 = ul) at a stage of the given scale."""
        if bias is None:
            return None
        nf2 = bias.shape[1] // (2 * self.n_blocks)
        k = (2 * block + stream) * nf2
        return bias[:, k:k + nf2, ::scale]

    # ------------------------------------------------------------------ the two streams
    def _u_stream(self, xin, bias):
        """The ``u`` maps the ``ul`` stream reads, in the order it reads them (each ``(B, nf,
        Hp / s, Wp / s)``). Row ``i`` of every map depends on input rows ``< i`` only."""
        n_layers = len(self.down_u) // self.n_stages
        u = down_shift(self.u_init(xin))
        skips, reads, block = [u], [], 0
        for stage in range(self.n_stages):
            for _ in range(n_layers):
                u = self.down_u[block](u, bias=self._block_bias(bias, 0, block, 2 ** stage))
                skips.append(u), reads.append(u)
                block += 1
            if stage < self.n_stages - 1:
                u = self.down_u_stride[stage](u)
                skips.append(u)
        u = skips.pop()
        up = 0
        for stage, size in zip(reversed(range(self.n_stages)), self.up_sizes):
            for _ in range(size):
                u = self.up_u[up](u, skips.pop(),
                                  bias=self._block_bias(bias, 0, block, 2 ** stage))
                reads.append(u)
                up += 1
                block += 1
            if stage:
                u = self.up_u_stride[self.n_stages - 1 - stage](u)
        return reads

    def _ul_init(self, xin):
        return down_shift(self.ul_init_v(xin)) + right_shift(self.ul_init_h(xin))

    def _ul_stream(self, ul, reads, bias):
        """Raw mixture parameters ``(B, P, Hp, Wp)`` from the initial ``ul`` map ``(B, nf, Hp,
        Wp)`` and the ``u`` maps of :meth:`_u_stream`."""
        n_layers = len(self.down_ul) // self.n_stages
        reads = iter(reads)
        skips, block = [ul], 0
        for stage in range(self.n_stages):
            for _ in range(n_layers):
                a = next(reads)
                ul = self.down_ul[block](ul, a, bias=self._block_bias(bias, 1, block, 2 ** stage))
                skips.append(ul)
                block += 1
            if stage < self.n_stages - 1:
                ul = self.down_ul_stride[stage](ul)
                skips.append(ul)
        ul = skips.pop()
        up = 0
        for stage, size in zip(reversed(range(self.n_stages)), self.up_sizes):
            for _ in range(size):
                a = torch.cat([next(reads), skips.pop()], dim=1)
                ul = self.up_ul[up](ul, a, bias=self._block_bias(bias, 1, block, 2 ** stage))
                up += 1
                block += 1
            if stage:
                ul = self.up_ul_stride[self.n_stages - 1 - stage](ul)
        return self.out(F.elu(ul))

    # ------------------------------------------------------------------ full forward pass
    def forward(self, x, labels=None, row_cond=None):
        """``x (B, C, H, W)`` levels (float), ``labels (B,)``, ``row_cond (B, F, H)`` -> raw
        mixture parameters ``(B, P, H, W)``."""
        labels = self.check_labels(labels)
        row_cond = self.check_row_cond(row_cond, x.shape[0], x.shape[2])
        height, width = x.shape[2:]
        xin = self._prepare(x)                                            # (B, C+1, Hp, Wp)
        bias = self._biases(labels, row_cond, xin.shape[2])
        raw = self._ul_stream(self._ul_init(xin), self._u_stream(xin, bias), bias)
        return raw[:, :, :height, :width]

    def log_prob(self, x, labels=None, row_cond=None):
        """Log-probability of every sub-pixel given the ones before it, ``(B, C, H, W)``."""
        raw = self(x, labels, row_cond).permute(0, 2, 3, 1)                # (B, H, W, P)
        return self.likelihood.log_prob(raw, x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def _draw(self, stepper, x, i, j):
        """Draw pixel ``(i, j)`` into ``x``: one ``torch.rand`` per pixel, all colours at once
        (the output at a pixel never reads that pixel)."""
        x[:, :, i, j] = self.likelihood.sample(stepper.raw(i, j, x))

    def _cache(self, x, first_row, labels, row_cond):
        return _PixelCache(self, x, first_row, labels, row_cond)


# ---------------------------------------------------------------------- cached generation
def _matrix(conv):
    """Conv -> matrix ``(C_in kh kw, C_out)`` for a flattened ``(B, C_in, kh, kw)`` window,
    and its bias."""
    return conv_matrix(conv.weight, channels_last=False), conv.bias


class _RowPair:
    """The previous and the current row of one map at one resolution, one zero column on the
    left: ``buf (B, C, 2, 1 + W)``, enough for the ``2 x 2`` down-right-shifted convs."""

    def __init__(self, full, row, done):
        """``full (B, C, R, W)`` a map over the known rows (or None), ``row`` the current row
        index, ``done`` whether that row was already computed from known rows."""
        b, c, r, w = full.shape
        self.buf = full.new_zeros(b, c, 2, w + 1)
        if 0 <= row - 1 < r:
            self.buf[:, :, 0, 1:] = full[:, :, row - 1]
        if done and row < r:
            self.buf[:, :, 1, 1:] = full[:, :, row]

    def roll(self):
        self.buf[:, :, 0] = self.buf[:, :, 1]
        self.buf[:, :, 1] = 0.0

    def put(self, col, value):                       # value (B, C)
        self.buf[:, :, 1, col + 1] = value

    def window(self, col):
        """Rows (previous, current) x columns ``col - 1, col``: ``(B, C * 4)``."""
        return self.buf[:, :, :, col:col + 2].reshape(self.buf.shape[0], -1)

    def current(self, col):
        return self.buf[:, :, 1, col + 1]


class _URows:
    """The ``u`` stream one row at a time: at fine row ``i``, every map at resolution ``1/s``
    with ``s`` dividing ``i`` gets its row ``i / s`` (rows at that resolution come in order).

    A ``2 x 3`` conv reads rows ``I - 1, I`` of its input (rows ``2I - 1, 2I`` of the finer
    map for a stride-2 conv), kept in a buffer ``(B, C, 2, 1 + W + 1)`` with a zero column on
    either side and zeros before the first row, as the convs' own padding. A transposed conv's
    output row ``I`` is one tap row (``I % 2``) applied to the latest coarse row, ``I // 2``.
    So a row costs the same whatever the image height.
    """

    def __init__(self, net, x, labels, row_cond):
        self.net, self.x, self.labels, self.row_cond = net, x, labels, row_cond
        self.n_layers = len(net.down_u) // net.n_stages
        self.up_start = [sum(net.up_sizes[:k]) for k in range(net.n_stages)]  # coarsest first
        self.bufs = {}                      # conv input -> (B, C, 2, W / s + 2)
        self.coarse = {}                    # stage -> its latest up-pass row (B, nf, 1, W / s)
        self.reads = [None] * (len(net.down_u) + len(net.up_u))

    def _push(self, key, row):
        """Roll the buffer ``key`` by one row, ``row (B, C, 1, W)`` last; returns the buffer."""
        buf = self.bufs.get(key)
        if buf is None:
            b, c, _, w = row.shape
            buf = self.bufs[key] = row.new_zeros(b, c, 2, w + 2)
        else:
            buf[:, :, 0] = buf[:, :, 1]
        buf[:, :, 1, 1:-1] = row[:, :, 0]
        return buf

    def _block(self, key, blk, x, a, bias):
        """:class:`~tsargen.nn.resnet.GatedResnet` at one row: ``x (B, nf, 1, W)`` -> same."""
        z = F.conv2d(self._push((key, 1), concat_elu(x)), blk.conv1.weight, blk.conv1.bias)
        if blk.aux is not None:
            z = z + blk.aux(concat_elu(a))
        z = F.conv2d(self._push((key, 2), concat_elu(z)), blk.conv2.weight, blk.conv2.bias)
        if bias is not None:
            z = z + bias                                                      # (B, 2nf, 1, W)
        value, gate = z.chunk(2, dim=1)
        return x + value * torch.sigmoid(gate)

    def step(self, i):
        """Row ``i``: returns the ``u`` rows the ``ul`` stream reads, in the order of
        :meth:`PixelCNNPP._u_stream`, each ``(B, nf, W / s)`` (row ``i / s``, left stale where
        ``s`` does not divide ``i``), and the row's conditioning biases ``(B, 2 blocks x 2nf,
        1, 1)`` or None."""
        net, stages, nl = self.net, self.net.n_stages, self.n_layers
        rc = None if self.row_cond is None else self.row_cond[..., i:i + 1]
        bias = net._biases(self.labels, rc, 1)
        # u_init, then down_shift: row i reads input rows i - 2, i - 1; row 0 is zero
        rows = self.x[:, :, max(i - 2, 0):max(i, 1)]
        xin = net._prepare(rows)[:, :, :rows.shape[2]]
        xin = F.pad(xin, (1, 1, 2 - xin.shape[2], 0))                        # (B, C+1, 2, W+2)
        u = F.conv2d(xin, net.u_init.weight, net.u_init.bias)                 # (B, nf, 1, W)
        if i == 0:
            u = torch.zeros_like(u)
        levels = []                         # per stage: the maps the up pass reads (skips)
        for stage in range(stages):                                  # down the resolutions
            if i % 2 ** stage:
                break
            if stage:                       # stride 2: rows 2I - 1, 2I of the finer map
                conv = net.down_u_stride[stage - 1]
                u = F.conv2d(self.bufs[("sm", stage - 1)], conv.weight, conv.bias, stride=2)
            level = [u]
            for k in range(stage * nl, (stage + 1) * nl):
                u = self._block(("d", k), net.down_u[k], u, None, net._block_bias(bias, 0, k, 1))
                level.append(u)
                self.reads[k] = u[:, :, 0]
            if stage < stages - 1:
                self._push(("sm", stage), u)
            levels.append(level)
        for stage in reversed(range(len(levels))):                   # and back up
            level = levels[stage]
            if stage == stages - 1:
                u = level.pop()
            else:                           # one tap row of the transposed conv
                conv, coarse = net.up_u_stride[stages - 2 - stage], self.coarse[stage + 1]
                tap = (i // 2 ** stage) % 2
                u = F.conv_transpose2d(coarse, conv.weight[:, :, tap:tap + 1], conv.bias,
                                       stride=2)[..., 1:1 + 2 * coarse.shape[3]]
            start = self.up_start[stages - 1 - stage]
            for up in range(start, start + net.up_sizes[stages - 1 - stage]):
                k = len(net.down_u) + up
                u = self._block(("u", k), net.up_u[up], u, level.pop(),
                                net._block_bias(bias, 0, k, 1))
                self.reads[k] = u[:, :, 0]
            self.coarse[stage] = u
        return self.reads, bias


class _PixelCache:
    """Cached generation (Ramachandran et al. 2017): every layer of the ``ul`` stream is
    computed once per position, when the first pixel that needs it comes up.

    A map position ``(I, J)`` at resolution ``1/s`` depends only on pixels before ``(sI, sJ)``
    in raster order, so at pixel ``(i, j)`` the positions ``(i/s, j/s)`` of every resolution
    ``s`` dividing both ``i`` and ``j`` are computed: down the resolutions on the way down, up
    on the way up. The convs read only the previous and current row of their input
    (:class:`_RowPair`); the up pass reads its coarser input through the transposed conv's one
    tap. The ``u`` stream, which depends on rows above only, is computed one row at a time
    (:class:`_URows`). Known rows fill the ``ul`` buffers through one forward pass and the
    ``u`` buffers by stepping over them.
    """

    def __init__(self, net, x, first_row, labels, row_cond):
        self.net, self.x, self.labels, self.row_cond = net, x, labels, row_cond
        n, c, height, width = x.shape
        self.first_row, self.height = first_row, height
        stages, f = net.n_stages, net.factor
        self.n_layers = len(net.down_ul) // stages
        self.n_down = len(net.down_ul)
        self.up_start = [sum(net.up_sizes[:k]) for k in range(stages)]   # coarsest first
        self.scale_of = {}
        self.mats = {}
        for k, blk in enumerate(list(net.down_ul) + list(net.up_ul)):
            if k < self.n_down:
                stage = k // self.n_layers
            else:
                u = k - self.n_down
                stage = stages - 1 - max(s for s in range(stages) if self.up_start[s] <= u)
            self.scale_of[("ce", k)] = self.scale_of[("c1", k)] = 2 ** stage
            self.mats[k] = (_matrix(blk.conv1), None if blk.aux is None else _matrix(blk.aux),
                            _matrix(blk.conv2))
        for stage in range(stages - 1):
            self.scale_of[("sm", stage)] = 2 ** stage          # input of a stride-2 conv
            self.scale_of[("t", stage + 1)] = 2 ** (stage + 1)  # input of a transposed conv
        self.stride = [_matrix(conv) for conv in net.down_ul_stride]
        self.up_w = [(conv.weight, conv.bias) for conv in net.up_ul_stride]  # (in, out, 2, 2)
        self.init_v, self.init_h = _matrix(net.ul_init_v), _matrix(net.ul_init_h)
        self.out = _matrix(net.out)
        # the image as the network sees it, padded: one row on top, one column either side
        self.xin = x.new_zeros(n, c + 1, height + 1, width + 2)
        self.xin[:, :c, 1:, 1:width + 1] = net.likelihood.values(x)
        self.xin[:, c, 1:, 1:width + 1] = 1.0
        full = self._known_maps(first_row)
        wp = math.ceil(width / f) * f
        self.rows = {}
        for key, s in self.scale_of.items():
            m = full.get(key)
            if m is None:
                ch = self._channels(key)
                m = x.new_zeros(n, ch, 0, wp // s)
            self.rows[key] = _RowPair(m, first_row // s, first_row % s != 0)
        self.u = _URows(net, x, labels, row_cond)
        for i in range(first_row):          # the u buffers over the known rows
            self.u.step(i)

    def _channels(self, key):
        nf = self.net.out.in_channels
        return 2 * nf if key[0] in ("ce", "c1") else nf

    def _known_maps(self, first_row):
        """Every buffered map over the known rows, from one forward pass (with hooks)."""
        if first_row == 0:
            return {}
        net, full, hooks = self.net, {}, []

        def keep(key):
            def hook(module, inputs):
                full[key] = inputs[0]
            return hook

        for k, blk in enumerate(list(net.down_ul) + list(net.up_ul)):
            hooks.append(blk.conv1.register_forward_pre_hook(keep(("ce", k))))
            hooks.append(blk.conv2.register_forward_pre_hook(keep(("c1", k))))
        for stage, conv in enumerate(net.down_ul_stride):
            hooks.append(conv.register_forward_pre_hook(keep(("sm", stage))))
        for idx, conv in enumerate(net.up_ul_stride):
            hooks.append(conv.register_forward_pre_hook(keep(("t", net.n_stages - 1 - idx))))
        try:
            rows = self.x[:, :, :first_row]
            lab = self.labels
            rc = None if self.row_cond is None else self.row_cond[..., :first_row]
            net(rows, lab, rc)
        finally:
            for h in hooks:
                h.remove()
        return full

    # ------------------------------------------------------------------ per row
    def begin_row(self, i):
        if i > self.first_row:
            for key, s in self.scale_of.items():
                if i % s == 0:
                    self.rows[key].roll()
        self.reads, self.bias = self.u.step(i)

    def _row_bias(self, block):
        """The conditioning bias of ``ul`` block ``block`` at the current row: ``(B, 2F)``."""
        if self.bias is None:
            return None
        return self.net._block_bias(self.bias, 1, block, 1)[:, :, 0, 0]

    # ------------------------------------------------------------------ per pixel
    def _block(self, k, ul, a, row, col):
        """Gated residual block ``k`` of the ``ul`` stream at one position: ``(B, F)``."""
        (w1, b1), aux, (w2, b2) = self.mats[k]
        ce, c1 = self.rows[("ce", k)], self.rows[("c1", k)]
        ce.put(col, concat_elu(ul))
        z = torch.addmm(b1, ce.window(col), w1)                                 # (B, F)
        if aux is not None:
            z = z + torch.addmm(aux[1], concat_elu(a), aux[0])
        c1.put(col, concat_elu(z))
        z = torch.addmm(b2, c1.window(col), w2)                                 # (B, 2F)
        bias = self._row_bias(k)
        if bias is not None:
            z = z + bias
        value, gate = z.chunk(2, dim=1)
        return ul + value * torch.sigmoid(gate)

    def _read(self, b, col):
        return self.reads[b][:, :, col]

    def raw(self, i, j, x=None):
        """Raw parameters ``(B, P)`` of pixel ``(i, j)`` (``x`` is ignored: the stepper reads
        the image it was built on)."""
        net, stages, nl = self.net, self.net.n_stages, self.n_layers
        # the initial ul at (i, j): the row above (cols j-1..j+1) and the pixel to the left
        ul = 0.0
        if i > 0:
            ul = torch.addmm(self.init_v[1], self.xin[:, :, i, j:j + 3].reshape(
                len(self.xin), -1), self.init_v[0])
        if j > 0:
            ul = ul + torch.addmm(self.init_h[1], self.xin[:, :, i:i + 2, j].reshape(
                len(self.xin), -1), self.init_h[0])
        if not torch.is_tensor(ul):
            ul = self.xin.new_zeros(len(self.xin), net.out.in_channels)
        skips, top = [], 0
        for stage in range(stages):                                  # down the resolutions
            s = 2 ** stage
            if i % s or j % s:
                break
            top, row, col = stage, i // s, j // s
            if stage:
                (w, b), sm = self.stride[stage - 1], self.rows[("sm", stage - 1)]
                ul = torch.addmm(b, sm.buf[:, :, :, 2 * col:2 * col + 2].reshape(
                    len(ul), -1), w)
            level = [ul]
            for k in range(stage * nl, (stage + 1) * nl):
                ul = self._block(k, ul, self._read(k, col), row, col)
                level.append(ul)
            if stage < stages - 1:
                self.rows[("sm", stage)].put(col, ul)
            skips.append(level)
        for stage in reversed(range(top + 1)):                       # and back up
            s = 2 ** stage
            row, col = i // s, j // s
            level = skips[stage]
            if stage == stages - 1:
                ul = level.pop()
            else:
                w, b = self.up_w[stages - 2 - stage]
                t = self.rows[("t", stage + 1)].current(col // 2)
                ul = torch.addmm(b, t, w[:, :, row % 2, col % 2])
            start = self.up_start[stages - 1 - stage]
            for u in range(start, start + net.up_sizes[stages - 1 - stage]):
                k = self.n_down + u
                a = torch.cat([self._read(k, col), level.pop()], dim=1)
                ul = self._block(k, ul, a, row, col)
            if stage:
                self.rows[("t", stage)].put(col, ul)
        w, b = self.out
        return torch.addmm(b, F.elu(ul), w)                                      # (B, P)

    def end_pixel(self, i, j, x=None):
        self.xin[:, :-1, i + 1, j + 1] = self.net.likelihood.values(self.x[:, :, i, j])
