"""Fast generation state for :class:`~tsargen.networks.wavenet.WaveNet`.

Fast WaveNet (Paine et al. 2016, arXiv:1611.09482) keeps one queue of past inputs per layer, so
a step costs one column per layer instead of a pass over the receptive field. :func:`build_state`
lays the queues, work buffers and weights out so that a step is few torch ops (each op costs
microseconds at batch 1):

* every block's ring buffer of its last (k-1)d inputs lives in ONE tensor, so a step gathers
  the past taps of all blocks with one index_select and applies their weights with one
  batched matmul (biases and the global conditioning folded in);
* tanh(f) sigmoid(g) = -(sigmoid(g) - 2 sigmoid(2f) sigmoid(g)): the filter rows of the
  dilated conv are pre-scaled by 2 and the sign goes into the 1x1 output weights, so the gated
  unit is one sigmoid_ and one addcmul (torch's CPU tanh is several times slower than its
  sigmoid);
* the gated outputs of all blocks go to one buffer with a column of ones appended per block,
  so the residual 1x1 conv (bias included) is one addmm per block and the skip 1x1 convs of
  all blocks (biases included) are one matmul per step;
* all weights are pre-transposed and contiguous, all buffers preallocated, and every op
  writes in place or into a precomputed view;
* at small batch (<= FUSED_MAX_BATCH paths, where a step is bound by per-op dispatch, not by
  FLOPs) a block's residual 1x1 conv and the next block's current tap are ONE in-place
  addmm: block l's row [f | g | h] holds the gate product in the g slot after gating, the
  next row holds its past taps and biases, and adding [u_l, h_l] @ W'_l to it gives
  [p_l+1 | h_l+1] (W'_l: the residual weights times [W_cur | I], and [W_cur | I]). 3 ops
  per block instead of 4, for twice the FLOPs of those two matmuls.

:meth:`WaveNet.step` and :meth:`WaveNet.commit` run the per-step ops on a :class:`WaveNetState`.
"""

import math
from dataclasses import dataclass, field

import torch

FUSED_MAX_BATCH = 4     # paths up to which a step runs the fused per-block ops


@dataclass(eq=False, slots=True)
class RingBuffer:
    """Every block's last ``(k-1) d`` inputs in one tensor ``rows``: block l's input at time tau
    is row ``base_l + tau mod length_l``, so a step gathers the past taps of all blocks with one
    ``index_select``. Per past tap (``n(k-1)`` of them, oldest first within a block): its
    ``lag``, its block's ``length`` and ``base``."""

    rows: torch.Tensor                 # (sum of the lengths, B, R)
    taps: torch.Tensor                 # (n(k-1), B, R) the past taps of the current step
    kernel_size: int
    lag: torch.Tensor
    length: torch.Tensor
    base: torch.Tensor
    read_table: list | None = None     # rows read at each t mod period (when tabulated)
    write_table: list | None = None    # rows written at each t mod period
    period: int = 1
    reads: torch.Tensor | None = None  # rows of the past taps at the current time (k > 1)
    writes: torch.Tensor | None = None  # each block's oldest tap: the rows commit overwrites

    def advance(self, t):
        """Set the rows read and written at time ``t``."""
        if self.kernel_size < 2:
            return
        if self.read_table is not None:            # tabulated: two list look-ups
            self.reads = self.read_table[t % self.period]
            self.writes = self.write_table[t % self.period]
            return
        self.reads = (t - self.lag) % self.length + self.base
        self.writes = self.reads[::self.kernel_size - 1]


@dataclass(eq=False, slots=True)
class LayerStep:
    """One block's views into :class:`BlockBuffers` and the weights its step applies.

    Fused (small batch): ``pre`` is the ``[2f | g]`` part of the block's row ``[2f | g | h]``;
    after gating the g slot holds -u, and ``next_row += gated_h @ next_w`` adds the residual
    output and the next block's current tap to the next block's row. Unfused: ``pre`` gets the
    current tap ``h @ w_cur``, the gated output goes to ``u``, and ``h + [u | 1] @ w_res`` is
    the next block's input ``h_next``. The last block has no next block (those fields None).
    """

    pre: torch.Tensor                  # (B, 2R) pre-activations [2f | g]
    f: torch.Tensor                    # (B, R) views of pre
    g: torch.Tensor
    gated_h: torch.Tensor | None = None    # fused: (B, 2R) [-u | h]
    next_row: torch.Tensor | None = None   # fused: (B, 3R)
    next_w: torch.Tensor | None = None     # fused: (2R, 3R)
    u: torch.Tensor | None = None          # unfused: (B, R) -u
    u_one: torch.Tensor | None = None      # unfused: (B, R + 1) [-u | 1]
    h: torch.Tensor | None = None          # unfused: (B, R) the block's input
    h_next: torch.Tensor | None = None     # unfused: (B, R)
    w_cur: torch.Tensor | None = None      # unfused: (R, 2R) current tap
    w_res: torch.Tensor | None = None      # unfused: (R + 1, R) residual 1x1 conv and bias


@dataclass(eq=False, slots=True)
class BlockBuffers:
    """The residual blocks' work buffers and step weights, in one of two layouts (``fused``:
    see the module docstring)."""

    fused: bool
    w_past: torch.Tensor               # (n(k-1), R, 2R or 3R) past-tap weights
    bias: torch.Tensor                 # (n, B, 2R or 3R)
    pre: torch.Tensor                  # (n, B, 2R or 3R) pre-activations of the step
    h: torch.Tensor                    # (n, B, R) block inputs
    layers: list[LayerStep]            # per block
    inp: torch.Tensor                  # (B, R) input conv: bias + past taps
    h0: torch.Tensor | None            # (B, R) input conv output with a current tap
    u_rows: torch.Tensor               # every block's gated output (-u)
    w_skip: torch.Tensor               # (nR or n(R + 1), S) skip 1x1 convs of all blocks
    b_skip: torch.Tensor | None = None     # fused: (S,) their summed biases
    first_w: torch.Tensor | None = None    # fused: (R, 3R) [W_cur | I] of block 0
    first_row: torch.Tensor | None = None  # fused: (B, 3R) block 0's row
    pre_fg: torch.Tensor = field(init=False)   # pre[:, :, :2R], where covariates add
    u_shape: tuple = field(init=False)         # u_rows as one (B, nR or n(R + 1)) matrix

    def __post_init__(self):
        self.pre_fg = self.pre[:, :, :2 * self.h.shape[2]]
        self.u_shape = (self.pre.shape[1], self.w_skip.shape[0])


@dataclass(eq=False, slots=True)
class InputConv:
    """The input conv (mask A) as a step applies it: the past taps' share plus bias goes to
    :attr:`BlockBuffers.inp` at commit; with ``current`` (joint channels) the step adds its own
    inputs times ``w_cur``. A generated step's inputs are ``[x * inv_scale + shift, 0 flags]``;
    with one past tap (k = 2), ``fold_bias`` and ``fold_w`` fold that into the conv."""

    w_cur: torch.Tensor                # (2C, R)
    w_past: torch.Tensor               # ((k-1) 2C, R)
    bias: torch.Tensor                 # (R,)
    current: bool                      # the current tap has weights
    inv_scale: torch.Tensor            # (C,)
    shift: torch.Tensor                # (C,)
    flags: torch.Tensor                # (B, C) zeros: no generated value is missing
    past: list                         # inputs (B, 2C) of the last k-1 steps, oldest first
    fold_bias: torch.Tensor | None = None  # (R,)
    fold_w: torch.Tensor | None = None     # (C, R)

    def step_inputs(self, x_t):
        """The network inputs ``(B, 2C)`` of a generated step ``x_t (B, C)``: standardised
        values and all-zero missing flags (what :meth:`WaveNet._inputs` gives for finite
        values, in two ops instead of eight)."""
        return torch.cat([torch.addcmul(self.shift, x_t, self.inv_scale), self.flags], dim=1)

    def fill(self, out):
        """The past taps' share plus bias into ``out (B, R)``."""
        if self.past:
            torch.addmm(self.bias, torch.cat(self.past, dim=1), self.w_past, out=out)
        else:
            out.copy_(self.bias.expand_as(out))

    def push(self, x_t, out):
        """Shift ``x_t (B, C)`` into the past taps, then :meth:`fill` ``out``."""
        if self.fold_w is not None:
            torch.addmm(self.fold_bias, x_t, self.fold_w, out=out)
            return
        if self.past:
            self.past.pop(0)
            self.past.append(self.step_inputs(x_t))
        self.fill(out)


@dataclass(eq=False, slots=True)
class PostConvs:
    """The two 1x1 convs after the skip sum, pre-transposed, and their work buffers."""

    w1: torch.Tensor                   # (S, S)
    b1: torch.Tensor
    w2: torch.Tensor                   # (S, P)
    b2: torch.Tensor
    skip: torch.Tensor                 # (B, S)
    hidden: torch.Tensor               # (B, S)


@dataclass(eq=False, slots=True)
class WaveNetState:
    """What :meth:`WaveNet.step` and :meth:`WaveNet.commit` work on (built by
    :meth:`WaveNet.init_state`; in memory only, never saved)."""

    t: int                             # time of the next step: T0 + steps committed
    ring: RingBuffer
    blocks: BlockBuffers
    input: InputConv
    post: PostConvs
    w_cond: torch.Tensor | None        # (K, n * 2R) local conditioning, or None


def build_state(net, history, x_in, cond, g, paths=None):
    """The :class:`WaveNetState` of ``net`` primed with ``history (S, C, T0)``, whose network
    inputs are ``x_in (S, 2C, T0)``; ``cond (S, K, T0)`` and the label embedding ``g (S, E)``
    (or None) as in :meth:`WaveNet.forward`.

    ``paths`` (long ``(B,)``, or None for one path per history): path ``i`` continues history
    ``paths[i]``. The network runs over the S histories only; their primed queues are then
    copied to the B paths, so priming costs S rows of compute and activations, not B."""
    t0, k = history.shape[2], net.input.kernel_size[0]
    ring = _primed_ring(net, history, x_in, cond, g, paths)
    if paths is not None:    # the rest reads the last k-1 inputs and the labels: per path
        tail = slice(max(0, t0 - k + 1), t0)
        history = history[:, :, tail].index_select(0, paths)
        x_in = x_in[:, :, tail].index_select(0, paths)
        g = None if g is None else g.index_select(0, paths)
    w_past, w_cur, bias, w_cond = _dilated_weights(net, history, g)
    w_res, w_skip = _output_weights(net)
    conv = _input_conv(net, history, x_in)
    layout = _fused_blocks if history.shape[0] <= FUSED_MAX_BATCH else _unfused_blocks
    blocks = layout(history, w_past, w_cur, bias, w_res, w_skip, conv.current)
    conv.fill(blocks.inp)
    state = WaveNetState(t0, ring, blocks, conv,
                         _post_convs(net, history, w_skip[0].shape[1]), w_cond)
    ring.advance(state.t)
    return state


def _primed_ring(net, history, x_in, cond, g, paths=None):
    """The :class:`RingBuffer` of every block, holding the block inputs of the history
    (network inputs ``x_in (S, 2C, T0)``), copied to ``paths`` (see :func:`build_state`)."""
    b, _, t0 = history.shape
    blocks, k, dev = list(net.blocks), net.input.kernel_size[0], history.device
    n, r = len(blocks), blocks[0].n_res
    # block l's inputs at times tau live in rows off_l + tau mod len_l
    lens = [(k - 1) * blk.dilated.dilation[0] for blk in blocks]
    offs = [sum(lens[:i]) for i in range(n)]
    rows = history.new_zeros(sum(lens), b, r)
    # the queues of blocks >= l hold what block l's inputs over the last sum(lens[l:]) steps
    # give: the network runs over that suffix only (a causal conv's first outputs there are
    # wrong, for want of earlier inputs, but fall outside the next block's suffix)
    need = [sum(lens[i:]) for i in range(n)] + [0]
    if t0 and need[0]:
        h = net.input(x_in[:, :, max(0, t0 - need[0] - k + 1):])
        for i, (blk, ln, off) in enumerate(zip(blocks, lens, offs)):
            h = h[:, :, max(0, h.shape[2] - need[i]):]            # times t0 - width .. t0 - 1
            lo = max(0, t0 - ln)
            if ln:
                rows[off + torch.arange(lo, t0, device=dev) % ln] = (
                    h[:, :, h.shape[2] - (t0 - lo):].permute(2, 0, 1))
            if need[i + 1]:
                c = None if cond is None else cond[:, :, t0 - h.shape[2]:]
                h, _ = blk(h, c, g)
        del h                                    # free the activations before copying
    if paths is not None:
        rows, b = rows.index_select(1, paths), paths.shape[0]             # (sum lens, B, R)
    # ring rows of the past taps (oldest first) as a function of time
    lag = torch.tensor([(k - 1 - j) * blk.dilated.dilation[0]
                        for blk in blocks for j in range(k - 1)], dtype=torch.long, device=dev)
    rep = torch.tensor(lens, dtype=torch.long, device=dev).repeat_interleave(k - 1)
    base = torch.tensor(offs, dtype=torch.long, device=dev).repeat_interleave(k - 1)
    ring = RingBuffer(rows, history.new_zeros(n * (k - 1), b, r), k, lag, rep, base)
    period = math.lcm(*lens) if k > 1 else 1
    if k > 1 and period <= 4096 and period * n * (k - 1) <= 2 ** 20:  # small: tabulate
        table = (torch.arange(period, device=dev)[:, None] - lag) % rep + base
        ring.read_table = list(table)                                   # (n(k-1),) per t
        ring.write_table = list(table[:, ::k - 1].contiguous())    # oldest tap's rows
        ring.period = period
    return ring


def _dilated_weights(net, history, g):
    """Every block's dilated conv as a step applies it, filter rows scaled by 2: past-tap
    weights ``(n(k-1), R, 2R)`` (oldest tap first), current-tap weights ``(n, R, 2R)``,
    biases with the global conditioning folded in ``(n, B, 2R)``, and the local
    conditioning's weights ``(K, n * 2R)`` or None."""
    blocks, k = list(net.blocks), net.input.kernel_size[0]
    n, r, b = len(blocks), blocks[0].n_res, history.shape[0]
    two = torch.cat([history.new_zeros(r).fill_(2.0), history.new_zeros(r).fill_(1.0)])
    wd = torch.stack([blk.dilated.masked_weight() for blk in blocks]) * two[:, None, None]
    w_past = wd[..., :k - 1].permute(0, 3, 2, 1).reshape(n * (k - 1), r, 2 * r).contiguous()
    w_cur = wd[..., k - 1].transpose(1, 2).contiguous()
    bias = (torch.stack([_bias(blk.dilated) for blk in blocks]) * two)[:, None, :]
    if g is not None:
        bias = bias + torch.stack([blk.glob(g) for blk in blocks]) * two
    bias = bias.expand(n, b, 2 * r).contiguous()
    w_cond = None
    if blocks[0].cond is not None:
        w_cond = torch.stack([blk.cond.weight[:, :, 0] for blk in blocks]) * two[:, None]
        w_cond = w_cond.permute(2, 0, 1).reshape(-1, n * 2 * r).contiguous()
    return w_past, w_cur, bias, w_cond


def _output_weights(net):
    """Every block's 1x1 output conv, negated (the gated unit gives -u), split into residual
    ``(R + 1, R)`` and skip ``(R + 1, S)`` weights whose last row is the bias (a column of
    ones follows u)."""
    w_res, w_skip = [], []
    for blk in net.blocks:
        r = blk.n_res
        w, bo = blk.out.masked_weight()[:, :, 0], _bias(blk.out)          # (R + S, R)
        w_res.append(torch.cat([-w[:r].T, bo[None, :r]]).contiguous())
        w_skip.append(torch.cat([-w[r:].T, bo[None, r:]]))
    return w_res, w_skip


def _input_conv(net, history, x_in):
    """The input conv (mask A) as a step applies it (:class:`InputConv`), with the network
    inputs of the last ``k - 1`` history steps (zeros before the history)."""
    b, c, t0 = history.shape
    k = net.input.kernel_size[0]
    w_in = net.input.masked_weight()                                       # (R, 2C, k)
    w_cur = w_in[:, :, k - 1].T.contiguous()                                # (2C, R)
    w_past = w_in[:, :, :k - 1].permute(2, 1, 0).reshape(-1, w_in.shape[0]).contiguous()
    past = [x_in[:, :, t] if t >= 0 else history.new_zeros(b, 2 * c)
            for t in range(t0 - k + 1, t0)]
    inv, shift = 1.0 / net.input_scale, -net.input_loc / net.input_scale
    conv = InputConv(w_cur, w_past, _bias(net.input), bool(w_cur.any()), inv, shift,
                     history.new_zeros(b, c), past)
    if k == 2:     # fold the standardisation of a generated step into the value rows
        wv = w_past[:c]
        conv.fold_bias = _bias(net.input) + shift @ wv
        conv.fold_w = (inv[:, None] * wv).contiguous()
    return conv


def _post_convs(net, history, n_skip):
    """The two 1x1 convs after the skip sum as a step applies them (:class:`PostConvs`)."""
    p1, p2 = net.post1, net.post2
    b = history.shape[0]
    return PostConvs(p1.masked_weight()[:, :, 0].T.contiguous(), _bias(p1),
                     p2.masked_weight()[:, :, 0].T.contiguous(), _bias(p2),
                     history.new_zeros(b, n_skip), history.new_zeros(b, n_skip))


def _fused_blocks(history, w_past, w_cur, bias, w_res, w_skip, current):
    """Small batch: one row ``[f | g | h]`` per block, all rows one ``(n, B, 3R)`` buffer. The
    past taps write ``[p | 0]`` plus the previous block's residual bias (``br``, and ``br @
    W_cur`` for p), then block l's addmm adds ``[h_l+1 @ W_cur | h_l+1]`` to row l+1 in place."""
    n, b, r = bias.shape[0], history.shape[0], w_cur.shape[1]
    pre = history.new_zeros(n, b, 3 * r)
    w_past = torch.cat([w_past, w_past.new_zeros(w_past.shape[0], r, r)], dim=2)
    bias = torch.cat([bias, bias.new_zeros(n, b, r)], dim=2)
    if n > 1:
        br = torch.stack([w[r] for w in w_res[:-1]])                            # (n-1, R)
        bias[1:, :, :2 * r] += torch.bmm(br[:, None, :], w_cur[1:])
        bias[1:, :, 2 * r:] += br[:, None, :]
    eye = torch.eye(r, dtype=w_cur.dtype, device=history.device)
    layers = []
    for i in range(n):
        w = nxt = None
        if i + 1 < n:              # rows: -u (in the g slot), then h       (2R, 3R)
            w = torch.cat([torch.cat([w_res[i][:r] @ w_cur[i + 1], w_res[i][:r]], dim=1),
                           torch.cat([w_cur[i + 1], eye], dim=1)]).contiguous()
            nxt = pre[i + 1]
        layers.append(LayerStep(pre[i, :, :2 * r], pre[i, :, :r], pre[i, :, r:2 * r],
                                gated_h=pre[i, :, r:], next_row=nxt, next_w=w))
    return BlockBuffers(
        fused=True, w_past=w_past, bias=bias, pre=pre, h=pre[:, :, 2 * r:], layers=layers,
        inp=history.new_zeros(b, r), h0=history.new_zeros(b, r) if current else None,
        u_rows=pre[:, :, r:2 * r], w_skip=torch.cat([w[:r] for w in w_skip]).contiguous(),
        b_skip=sum(w[r] for w in w_skip), first_w=torch.cat([w_cur[0], eye], dim=1).contiguous(),
        first_row=pre[0])


def _unfused_blocks(history, w_past, w_cur, bias, w_res, w_skip, current):
    """Larger batch: block inputs ``(n, B, R)``, pre-activations ``(n, B, 2R)`` and gated
    outputs ``(B, n, R + 1)`` with a column of ones (the biases of the 1x1 convs)."""
    n, b, r = bias.shape[0], history.shape[0], w_cur.shape[1]
    h = history.new_zeros(n, b, r)
    u = history.new_zeros(b, n, r + 1)
    u[:, :, r] = 1.0
    pre = history.new_zeros(n, b, 2 * r)
    last = n - 1
    layers = [LayerStep(pre[i], pre[i, :, :r], pre[i, :, r:], u=u[:, i, :r], u_one=u[:, i],
                        h=h[i], h_next=None if i == last else h[i + 1], w_cur=w_cur[i],
                        w_res=None if i == last else w_res[i]) for i in range(n)]
    return BlockBuffers(fused=False, w_past=w_past, bias=bias, pre=pre, h=h, layers=layers,
                        inp=history.new_zeros(b, r) if current else h[0], h0=h[0], u_rows=u,
                        w_skip=torch.cat(w_skip).contiguous())


def _bias(conv):
    """A conv's bias, or zeros."""
    if conv.bias is not None:
        return conv.bias.detach()
    return conv.weight.new_zeros(conv.weight.shape[0])

