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
Convolutional Autoregressive Models", arXiv:1704.06001; the cached stepper is in
``_pixelcnn_pp_cache.py``): at each pixel every layer of the ``ul`` stream computes only the
positions that pixel completes, and the ``u`` stream, which sees rows above only, advances a
row at a time. One pass per pixel gives all its colours (the output never reads its own pixel;
the colours are then drawn one after the other from the mixture). ``naive=True`` runs the full
network over the whole image for every pixel. On one CPU thread, a 28x28 greyscale image at
batch 1 with the density's default architecture (256 levels) took 0.57 s cached against 15 s
naive, with identical draws.

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

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.masked import (DownRightShiftedConv2d, DownRightShiftedConvTranspose2d,
                         DownShiftedConv2d, DownShiftedConvTranspose2d, down_shift, right_shift)
from ..nn.pixel_mixture import PixelLogisticMixture
from ..nn.resnet import GatedResnet
from ._image import LevelImageNetwork
from ._pixelcnn_pp_cache import PixelCache

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
        self._keep_config(dict(n_channels=n_channels, n_levels=n_levels, n_layers=n_layers,
                               hidden_channels=hidden_channels, n_mixtures=n_mixtures,
                               dropout=dropout, n_classes=n_classes,
                               n_row_features=n_row_features, n_stages=n_stages),
                          n_row_features)
        c, nf = n_channels, hidden_channels
        self.n_stages = n_stages
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
    def _stage_blocks(self, stage, up=False):
        """Indices ``k`` of the blocks of one stage of the down (or up) pass; ``k`` counts the
        down pass's blocks, then the up pass's, coarsest stage first, as :meth:`_blocks`."""
        if not up:
            n_layers = len(self.down_u) // self.n_stages
            return range(stage * n_layers, (stage + 1) * n_layers)
        rank = self.n_stages - 1 - stage
        start = len(self.down_u) + sum(self.up_sizes[:rank])
        return range(start, start + self.up_sizes[rank])

    def _blocks(self, stream):
        """The gated blocks of the ``u`` (0) or ``ul`` (1) stream: down pass, then up pass."""
        return [*self.down_u, *self.up_u] if stream == 0 else [*self.down_ul, *self.up_ul]

    def _u_stream(self, xin, bias):
        """The ``u`` maps the ``ul`` stream reads, one per block ``k`` (each ``(B, nf, Hp / s,
        Wp / s)``). Row ``i`` of every map depends on input rows ``< i`` only."""
        blocks = self._blocks(0)
        u = down_shift(self.u_init(xin))
        skips, reads = [u], []
        for stage in range(self.n_stages):                          # down the resolutions
            for k in self._stage_blocks(stage):
                u = blocks[k](u, bias=self._block_bias(bias, 0, k, 2 ** stage))
                skips.append(u), reads.append(u)
            if stage < self.n_stages - 1:
                u = self.down_u_stride[stage](u)
                skips.append(u)
        u = skips.pop()
        for stage in reversed(range(self.n_stages)):                # and back up
            for k in self._stage_blocks(stage, up=True):
                u = blocks[k](u, skips.pop(), bias=self._block_bias(bias, 0, k, 2 ** stage))
                reads.append(u)
            if stage:
                u = self.up_u_stride[self.n_stages - 1 - stage](u)
        return reads

    def _ul_init(self, xin):
        return down_shift(self.ul_init_v(xin)) + right_shift(self.ul_init_h(xin))

    def _ul_stream(self, ul, reads, bias):
        """Raw mixture parameters ``(B, P, Hp, Wp)`` from the initial ``ul`` map ``(B, nf, Hp,
        Wp)`` and the ``u`` maps of :meth:`_u_stream`."""
        blocks = self._blocks(1)
        skips = [ul]
        for stage in range(self.n_stages):                          # down the resolutions
            for k in self._stage_blocks(stage):
                ul = blocks[k](ul, reads[k], bias=self._block_bias(bias, 1, k, 2 ** stage))
                skips.append(ul)
            if stage < self.n_stages - 1:
                ul = self.down_ul_stride[stage](ul)
                skips.append(ul)
        ul = skips.pop()
        for stage in reversed(range(self.n_stages)):                # and back up
            for k in self._stage_blocks(stage, up=True):
                a = torch.cat([reads[k], skips.pop()], dim=1)
                ul = blocks[k](ul, a, bias=self._block_bias(bias, 1, k, 2 ** stage))
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
        return PixelCache(self, x, first_row, labels, row_cond)
