"""Cached generation for :class:`~tsargen.networks.pixelcnn_pp.PixelCNNPP`.

Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive Models"
(arXiv:1704.06001): a map position ``(I, J)`` at resolution ``1/s`` depends only on the pixels
before ``(sI, sJ)`` in raster order, so at pixel ``(i, j)`` every ``ul`` layer computes exactly
the positions ``(i/s, j/s)`` of the resolutions ``s`` that divide ``i`` and ``j``
(:class:`PixelCache`), reading the previous and current row of its input from small buffers
(:class:`_RowPair`). The ``u`` stream (rows above only) is carried row by row (:class:`_URows`):
at row ``i`` every ``u`` map at resolution ``1/s``, ``s`` dividing ``i``, gets its row
``i / s``. Both streams then cost ``H * W`` positions per image, whatever its height.

The blocks are indexed as in :meth:`PixelCNNPP._stage_blocks`: ``k`` counts the down pass's
blocks, then the up pass's, coarsest stage first.
"""

import math

import torch
import torch.nn.functional as F

from ..nn.resnet import concat_elu
from ._image import conv_matrix


def _matrix(conv):
    """Conv -> matrix ``(C_in kh kw, C_out)`` for a flattened ``(B, C_in, kh, kw)`` window,
    and its bias."""
    return conv_matrix(conv.weight, channels_last=False), conv.bias


def _gate(x, z):
    """The gated residual of :class:`~tsargen.nn.resnet.GatedResnet`: ``x + a * sigmoid(b)``
    for ``z = [a, b]`` along dim 1."""
    value, gate = z.chunk(2, dim=1)
    return x + value * torch.sigmoid(gate)


class _RowPair:
    """The previous and the current row of one map at one resolution, one zero column on the
    left: ``buf (B, C, 2, 1 + W)``, enough for the ``2 x 2`` down-right-shifted convs."""

    def __init__(self, full, row, done):
        """``full (B, C, R, W)`` a map over the known rows, ``row`` the current row index,
        ``done`` whether that row was already computed from known rows."""
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
    """

    def __init__(self, net, x, labels, row_cond):
        self.net, self.x, self.labels, self.row_cond = net, x, labels, row_cond
        self.blocks = net._blocks(0)
        self.bufs = {}                      # conv input -> (B, C, 2, W / s + 2)
        self.coarse = {}                    # stage -> its latest up-pass row (B, nf, 1, W / s)
        self.reads = [None] * len(self.blocks)

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

    def _block(self, k, x, a, bias):
        """Block ``k`` at one row: ``x (B, nf, 1, W)`` -> same."""
        blk = self.blocks[k]
        z = F.conv2d(self._push((k, 1), concat_elu(x)), blk.conv1.weight, blk.conv1.bias)
        if blk.aux is not None:
            z = z + blk.aux(concat_elu(a))
        z = F.conv2d(self._push((k, 2), concat_elu(z)), blk.conv2.weight, blk.conv2.bias)
        if bias is not None:
            z = z + bias                                                      # (B, 2nf, 1, W)
        return _gate(x, z)

    def _first(self, i):
        """Row ``i`` of ``down_shift(u_init(xin))``: it reads input rows ``i - 2, i - 1``;
        row 0 is zero. ``(B, nf, 1, W)``."""
        net = self.net
        rows = self.x[:, :, max(i - 2, 0):max(i, 1)]
        xin = net._prepare(rows)[:, :, :rows.shape[2]]
        xin = F.pad(xin, (1, 1, 2 - xin.shape[2], 0))                        # (B, C+1, 2, W+2)
        u = F.conv2d(xin, net.u_init.weight, net.u_init.bias)                 # (B, nf, 1, W)
        return torch.zeros_like(u) if i == 0 else u

    def step(self, i):
        """Row ``i``: returns the ``u`` rows the ``ul`` stream reads, one per block ``k``, each
        ``(B, nf, W / s)`` (row ``i / s``, left stale where ``s`` does not divide ``i``), and
        the row's conditioning biases ``(B, 2 blocks x 2nf, 1, 1)`` or None."""
        net, stages = self.net, self.net.n_stages
        rc = None if self.row_cond is None else self.row_cond[..., i:i + 1]
        bias = net._biases(self.labels, rc, 1)
        u = self._first(i)
        levels = []                         # per stage: the maps the up pass reads (skips)
        for stage in range(stages):                                  # down the resolutions
            if i % 2 ** stage:
                break
            if stage:                       # stride 2: rows 2I - 1, 2I of the finer map
                conv = net.down_u_stride[stage - 1]
                u = F.conv2d(self.bufs[("sm", stage - 1)], conv.weight, conv.bias, stride=2)
            level = [u]
            for k in net._stage_blocks(stage):
                u = self._block(k, u, None, net._block_bias(bias, 0, k, 1))
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
            for k in net._stage_blocks(stage, up=True):
                u = self._block(k, u, level.pop(), net._block_bias(bias, 0, k, 1))
                self.reads[k] = u[:, :, 0]
            self.coarse[stage] = u
        return self.reads, bias


class PixelCache:
    """Cached stepper: every layer of the ``ul`` stream is computed once per position, when
    the first pixel that needs it comes up; the ``u`` stream a row at a time (:class:`_URows`).

    Every conv of the ``ul`` stream reads the previous and current row of its input
    (:class:`_RowPair`); the up pass reads its coarser input through the transposed conv's one
    tap. Known rows fill the ``ul`` buffers through one forward pass and the ``u`` buffers by
    stepping over them.
    """

    def __init__(self, net, x, first_row, labels, row_cond):
        self.net, self.x, self.labels, self.row_cond = net, x, labels, row_cond
        n, c, height, width = x.shape
        self.first_row, stages = first_row, net.n_stages
        stage_of = {k: stage for up in (False, True) for stage in range(stages)
                    for k in net._stage_blocks(stage, up)}
        # buffered map -> its resolution 1/s: the inputs of every block's two convs ("ce",
        # "c1"), of the stride-2 convs ("sm") and of the transposed convs ("t")
        self.scale_of, self.mats = {}, {}
        for k, blk in enumerate(net._blocks(1)):
            self.scale_of[("ce", k)] = self.scale_of[("c1", k)] = 2 ** stage_of[k]
            self.mats[k] = (_matrix(blk.conv1), None if blk.aux is None else _matrix(blk.aux),
                            _matrix(blk.conv2))
        for stage in range(stages - 1):
            self.scale_of[("sm", stage)] = 2 ** stage
            self.scale_of[("t", stage + 1)] = 2 ** (stage + 1)
        self.stride = [_matrix(conv) for conv in net.down_ul_stride]
        self.up_w = [(conv.weight, conv.bias) for conv in net.up_ul_stride]  # (in, out, 2, 2)
        self.init_v, self.init_h = _matrix(net.ul_init_v), _matrix(net.ul_init_h)
        self.out = _matrix(net.out)
        # the image as the network sees it, padded: one row on top, one column either side
        self.xin = x.new_zeros(n, c + 1, height + 1, width + 2)
        self.xin[:, :c, 1:, 1:width + 1] = net.likelihood.values(x)
        self.xin[:, c, 1:, 1:width + 1] = 1.0
        full = self._known_maps(first_row)
        nf, wp = net.out.in_channels, math.ceil(width / net.factor) * net.factor
        self.rows = {}
        for key, s in self.scale_of.items():
            m = full.get(key)
            if m is None:
                m = x.new_zeros(n, 2 * nf if key[0] in ("ce", "c1") else nf, 0, wp // s)
            self.rows[key] = _RowPair(m, first_row // s, first_row % s != 0)
        self.u = _URows(net, x, labels, row_cond)
        for i in range(first_row):          # the u buffers over the known rows
            self.u.step(i)

    def _known_maps(self, first_row):
        """Every buffered map over the known rows, from one forward pass (with hooks)."""
        if first_row == 0:
            return {}
        net, full, hooks = self.net, {}, []

        def keep(key):
            def hook(module, inputs):
                full[key] = inputs[0]
            return hook

        for k, blk in enumerate(net._blocks(1)):
            hooks.append(blk.conv1.register_forward_pre_hook(keep(("ce", k))))
            hooks.append(blk.conv2.register_forward_pre_hook(keep(("c1", k))))
        for stage, conv in enumerate(net.down_ul_stride):
            hooks.append(conv.register_forward_pre_hook(keep(("sm", stage))))
        for idx, conv in enumerate(net.up_ul_stride):
            hooks.append(conv.register_forward_pre_hook(keep(("t", net.n_stages - 1 - idx))))
        try:
            rc = None if self.row_cond is None else self.row_cond[..., :first_row]
            net(self.x[:, :, :first_row], self.labels, rc)
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

    # ------------------------------------------------------------------ per pixel
    def _block(self, k, ul, a, col):
        """Block ``k`` of the ``ul`` stream at one position: ``(B, F)``."""
        (w1, b1), aux, (w2, b2) = self.mats[k]
        ce, c1 = self.rows[("ce", k)], self.rows[("c1", k)]
        ce.put(col, concat_elu(ul))
        z = torch.addmm(b1, ce.window(col), w1)                                 # (B, F)
        if aux is not None:
            z = z + torch.addmm(aux[1], concat_elu(a), aux[0])
        c1.put(col, concat_elu(z))
        z = torch.addmm(b2, c1.window(col), w2)                                 # (B, 2F)
        if self.bias is not None:       # the block's conditioning bias at this row
            z = z + self.net._block_bias(self.bias, 1, k, 1)[:, :, 0, 0]
        return _gate(ul, z)

    def _first(self, i, j):
        """The initial ``ul`` at ``(i, j)``: the row above (columns ``j-1 .. j+1``) and the
        pixel to the left. ``(B, F)``."""
        xin, ul = self.xin, 0.0
        if i > 0:
            ul = torch.addmm(self.init_v[1], xin[:, :, i, j:j + 3].reshape(len(xin), -1),
                             self.init_v[0])
        if j > 0:
            ul = ul + torch.addmm(self.init_h[1], xin[:, :, i:i + 2, j].reshape(len(xin), -1),
                                  self.init_h[0])
        return ul if torch.is_tensor(ul) else xin.new_zeros(len(xin), self.net.out.in_channels)

    def raw(self, i, j, x=None):
        """Raw parameters ``(B, P)`` of pixel ``(i, j)`` (``x`` is ignored: the stepper reads
        the image it was built on)."""
        net, stages = self.net, self.net.n_stages
        ul = self._first(i, j)
        skips, top = [], 0
        for stage in range(stages):                                  # down the resolutions
            s = 2 ** stage
            if i % s or j % s:
                break
            top, col = stage, j // s
            if stage:
                (w, b), sm = self.stride[stage - 1], self.rows[("sm", stage - 1)]
                ul = torch.addmm(b, sm.buf[:, :, :, 2 * col:2 * col + 2].reshape(
                    len(ul), -1), w)
            level = [ul]
            for k in net._stage_blocks(stage):
                ul = self._block(k, ul, self.reads[k][:, :, col], col)
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
            for k in net._stage_blocks(stage, up=True):
                a = torch.cat([self.reads[k][:, :, col], level.pop()], dim=1)
                ul = self._block(k, ul, a, col)
            if stage:
                self.rows[("t", stage)].put(col, ul)
        w, b = self.out
        return torch.addmm(b, F.elu(ul), w)                                      # (B, P)

    def end_pixel(self, i, j, x=None):
        self.xin[:, :-1, i + 1, j + 1] = self.net.likelihood.values(self.x[:, :, i, j])
