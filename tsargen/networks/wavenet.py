"""WaveNet for multichannel series.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio" (arXiv:1609.03499): stacks
of dilated causal convolutions (dilations 1, 2, ..., 2^(n_layers-1), repeated ``n_stacks`` times),
gated tanh·sigmoid units, residual and parameterised skip connections, global conditioning (a
label embedding) and local conditioning (time-aligned covariates). Generation uses the Fast
WaveNet queues of Paine et al. 2016 (arXiv:1611.09482): one ring buffer per layer.

Output ``t`` parameterises the distribution of ``x[t]`` given ``x[<t]``: the input layer's
current tap carries mask A, so no output sees its own timestep's value.

NOTE (multichannel): with ``channel_dependence="joint"`` every hidden layer is split into one
channel group per data channel, and the current-time taps carry PixelCNN's masks (A at the
input, B after), so channel ``c`` at time ``t`` is conditioned on channels ``< c`` at ``t`` as
well as on the whole past. ``"independent"`` uses one group: channels are conditionally
independent given the past.

NOTE (local conditioning at a lower rate): the paper upsamples frame-rate features (e.g.
log-mel frames, one per hop of samples) with a learned transposed convolution. Here a frame is
repeated for each of its samples (``generate(..., cond_index=...)``; the estimators gather frames
per batch the same way) and enters every layer through the paper's 1x1 conv ``V_f * y``. Why:
the repetition keeps features at frame rate in memory (log-mels of a speech corpus at the sample
rate would cost gigabytes), needs no extra parameters, and lets cached generation compute each
frame's projection once per frame; the dilated stacks smooth the steps between frames.

NOTE (global conditioning): labels go through one learned embedding of size ``embedding_dim``
shared by all layers, which each layer projects (``V_k^T e(label)``); with ``embedding_dim >=
n_classes`` this equals the paper's one-hot ``V_k^T h``, otherwise it is a low-rank
factorisation of it.

NOTE (missing values): the input is ``[x with NaN -> 0, isnan(x)]``, so the network knows which
past values were missing; estimators mask NaN targets out of the loss and left-pad series with
NaN, so "no history" and "a history of zeros" are different inputs.
"""

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.causal import ChannelMaskedConv1d, group_ids, split_evenly
from ..nn.gated import ResidualBlock
from ..nn.heads import HeadSet

FUSED_MAX_BATCH = 4     # paths up to which a step runs the fused per-block ops (see init_state)


class WaveNet(nn.Module):
    """Dilated causal conv stacks with distribution heads.

    Parameters
    ----------
    heads : list of dict
        Head specs for :class:`~tsargen.nn.HeadSet`; they fix the number of channels ``C``.
    n_stacks, n_layers, kernel_size, residual_channels, skip_channels : int
    channel_dependence : {"joint", "independent"}
    cond_channels : int
        Number of local covariates (time-aligned, known at the predicted step).
    n_classes : int
        Number of labels for global conditioning; 0 for none.
    embedding_dim : int
        Size of the label embedding.

    Examples
    --------
    >>> net = WaveNet([{"name": "gaussian", "channels": [0]}], n_stacks=1, n_layers=3)
    >>> net.receptive_field                     # (k-1) * (1 + sum of dilations)
    8
    >>> net(torch.randn(4, 1, 30)).shape        # (B, C, T) -> (B, P, T)
    torch.Size([4, 2, 30])
    """

    def __init__(self, heads, n_stacks=2, n_layers=10, kernel_size=2, residual_channels=32,
                 skip_channels=64, channel_dependence="joint", cond_channels=0, n_classes=0,
                 embedding_dim=16):
        super().__init__()
        self.config = dict(heads=heads, n_stacks=n_stacks, n_layers=n_layers,
                           kernel_size=kernel_size, residual_channels=residual_channels,
                           skip_channels=skip_channels, channel_dependence=channel_dependence,
                           cond_channels=cond_channels, n_classes=n_classes,
                           embedding_dim=embedding_dim)
        self.heads = HeadSet(heads)
        c = self.n_channels = self.heads.n_channels
        # the network standardises its inputs (heads see data units): estimators set these for
        # channels they do not scale themselves, such as integer levels
        self.register_buffer("input_loc", torch.zeros(c))
        self.register_buffer("input_scale", torch.ones(c))
        self.joint = channel_dependence == "joint" and c > 1
        n_groups = c if self.joint else 1
        if min(residual_channels, skip_channels) < n_groups:
            raise ValueError(f"joint channel dependence over {c} channels needs residual_channels "
                             f"and skip_channels >= {c}; got {residual_channels} and "
                             f"{skip_channels}: raise them or use channel_dependence='independent'")
        in_ids = list(range(c)) * 2 if self.joint else [0] * (2 * c)  # values, then NaN flags
        res_ids = group_ids(split_evenly(residual_channels, n_groups)).tolist()
        skip_ids = group_ids(split_evenly(skip_channels, n_groups)).tolist()
        param_ids = (group_ids(self.heads.n_params_per_channel).tolist() if self.joint
                     else [0] * self.heads.n_params)
        self.embedding = nn.Embedding(n_classes, embedding_dim) if n_classes else None
        g = embedding_dim if n_classes else 0
        self.input = ChannelMaskedConv1d(in_ids, res_ids, "A", kernel_size)
        self.blocks = nn.ModuleList(
            ResidualBlock(res_ids, skip_ids, kernel_size, 2 ** layer, cond_channels, g)
            for _ in range(n_stacks) for layer in range(n_layers))
        self.post1 = ChannelMaskedConv1d(skip_ids, skip_ids, "B")
        self.post2 = ChannelMaskedConv1d(skip_ids, param_ids, "B")
        self.receptive_field = self.input.span + sum(b.dilated.span for b in self.blocks)

    # ------------------------------------------------------------------ full forward pass
    def _inputs(self, x):
        """``x (B, C, T)`` with NaN -> ``(B, 2C, T)``: standardised values (NaN as 0) and
        missing flags."""
        missing = torch.isnan(x)
        x = (x - self.input_loc[:, None]) / self.input_scale[:, None]
        return torch.cat([x.masked_fill(missing, 0.0), missing.to(x.dtype)], dim=1)

    def _global(self, labels):
        return None if self.embedding is None else self.embedding(labels)

    def forward(self, x, cond=None, labels=None):
        """``x (B, C, T)``, ``cond (B, K, T)``, ``labels (B,)`` -> raw parameters ``(B, P, T)``."""
        g = self._global(labels)
        h = self.input(self._inputs(x))
        skip = 0
        for block in self.blocks:
            h, s = block(h, cond, g)
            skip = skip + s
        return self.post2(F.relu(self.post1(F.relu(skip))))

    def log_prob(self, x, cond=None, labels=None):
        """Per-element log-likelihood ``(B, C, T)`` of ``x (B, C, T)``; NaN entries give junk
        values that callers mask."""
        raw = self(x, cond, labels).transpose(1, 2)                     # (B, T, P)
        return self.heads.log_prob(raw, torch.nan_to_num(x).transpose(1, 2)).transpose(1, 2)

    # ------------------------------------------------------------------ incremental generation
    # Fast WaveNet caching with few torch ops per step (each op costs microseconds at batch 1):
    #
    # * every block's ring buffer of its last (k-1)d inputs lives in ONE tensor, so a step gathers
    #   the past taps of all blocks with one index_select and applies their weights with one
    #   batched matmul (biases and the global conditioning folded in);
    # * tanh(f) sigmoid(g) = -(sigmoid(g) - 2 sigmoid(2f) sigmoid(g)): the filter rows of the
    #   dilated conv are pre-scaled by 2 and the sign goes into the 1x1 output weights, so the gated
    #   unit is one sigmoid_ and one addcmul (torch's CPU tanh is several times slower than its
    #   sigmoid);
    # * the gated outputs of all blocks go to one buffer with a column of ones appended per block,
    #   so the residual 1x1 conv (bias included) is one addmm per block and the skip 1x1 convs of
    #   all blocks (biases included) are one matmul per step;
    # * all weights are pre-transposed and contiguous, all buffers preallocated, and every op
    #   writes in place or into a precomputed view;
    # * at small batch (<= FUSED_MAX_BATCH paths, where a step is bound by per-op dispatch, not by
    #   FLOPs) a block's residual 1x1 conv and the next block's current tap are ONE in-place
    #   addmm: block l's row [f | g | h] holds the gate product in the g slot after gating, the
    #   next row holds its past taps and biases, and adding [u_l, h_l] @ W'_l to it gives
    #   [p_l+1 | h_l+1] (W'_l: the residual weights times [W_cur | I], and [W_cur | I]). 3 ops
    #   per block instead of 4, for twice the FLOPs of those two matmuls.
    #
    # init_state builds a WaveNetState (the classes below WaveNet); step and commit only run the
    # per-step ops.

    @torch.no_grad()
    def init_state(self, history, cond=None, labels=None):
        """Generation state primed with ``history (B, C, T0)`` (T0 may be 0) for :meth:`step`.

        ``cond (B, K, T0)`` and ``labels (B,)`` as in :meth:`forward`. The
        :class:`WaveNetState` holds one ring buffer of past inputs per layer (Fast WaveNet, Paine
        et al. 2016), preallocated work buffers and the layer weights in the form a step uses.
        """
        g = self._global(labels)
        x_in = self._inputs(history)                                          # (B, 2C, T0)
        ring = self._primed_ring(history, x_in, cond, g)
        w_past, w_cur, bias, w_cond = self._dilated_weights(history, g)
        w_res, w_skip = self._output_weights()
        conv = self._input_conv(history, x_in)
        layout = _fused_blocks if history.shape[0] <= FUSED_MAX_BATCH else _unfused_blocks
        blocks = layout(history, w_past, w_cur, bias, w_res, w_skip, conv.current)
        conv.fill(blocks.inp)
        state = WaveNetState(history.shape[2], ring, blocks, conv,
                             self._post_convs(history, w_skip[0].shape[1]), w_cond)
        ring.advance(state.t)
        return state

    def _primed_ring(self, history, x_in, cond, g):
        """The :class:`RingBuffer` of every block, holding the block inputs of the history
        (network inputs ``x_in (B, 2C, T0)``)."""
        b, _, t0 = history.shape
        blocks, k, dev = list(self.blocks), self.input.kernel_size[0], history.device
        n, r = len(blocks), blocks[0].n_res
        # block l's inputs at times tau live in rows off_l + tau mod len_l
        lens = [(k - 1) * blk.dilated.dilation[0] for blk in blocks]
        offs = [sum(lens[:i]) for i in range(n)]
        rows = history.new_zeros(sum(lens), b, r)
        if t0:
            h = self.input(x_in)
            for blk, ln, off in zip(blocks, lens, offs):
                lo = max(0, t0 - ln)
                if ln:
                    rows[off + torch.arange(lo, t0, device=dev) % ln] = (
                        h[:, :, lo:t0].permute(2, 0, 1))
                h, _ = blk(h, cond, g)
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

    def _dilated_weights(self, history, g):
        """Every block's dilated conv as a step applies it, filter rows scaled by 2: past-tap
        weights ``(n(k-1), R, 2R)`` (oldest tap first), current-tap weights ``(n, R, 2R)``,
        biases with the global conditioning folded in ``(n, B, 2R)``, and the local
        conditioning's weights ``(K, n * 2R)`` or None."""
        blocks, k = list(self.blocks), self.input.kernel_size[0]
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

    def _output_weights(self):
        """Every block's 1x1 output conv, negated (the gated unit gives -u), split into residual
        ``(R + 1, R)`` and skip ``(R + 1, S)`` weights whose last row is the bias (a column of
        ones follows u)."""
        w_res, w_skip = [], []
        for blk in self.blocks:
            r = blk.n_res
            w, bo = blk.out.masked_weight()[:, :, 0], _bias(blk.out)          # (R + S, R)
            w_res.append(torch.cat([-w[:r].T, bo[None, :r]]).contiguous())
            w_skip.append(torch.cat([-w[r:].T, bo[None, r:]]))
        return w_res, w_skip

    def _input_conv(self, history, x_in):
        """The input conv (mask A) as a step applies it (:class:`InputConv`), with the network
        inputs of the last ``k - 1`` history steps (zeros before the history)."""
        b, c, t0 = history.shape
        k = self.input.kernel_size[0]
        w_in = self.input.masked_weight()                                       # (R, 2C, k)
        w_cur = w_in[:, :, k - 1].T.contiguous()                                # (2C, R)
        w_past = w_in[:, :, :k - 1].permute(2, 1, 0).reshape(-1, w_in.shape[0]).contiguous()
        past = [x_in[:, :, t] if t >= 0 else history.new_zeros(b, 2 * c)
                for t in range(t0 - k + 1, t0)]
        inv, shift = 1.0 / self.input_scale, -self.input_loc / self.input_scale
        conv = InputConv(w_cur, w_past, _bias(self.input), bool(w_cur.any()), inv, shift,
                         history.new_zeros(b, c), past)
        if k == 2:     # fold the standardisation of a generated step into the value rows
            wv = w_past[:c]
            conv.fold_bias = _bias(self.input) + shift @ wv
            conv.fold_w = (inv[:, None] * wv).contiguous()
        return conv

    def _post_convs(self, history, n_skip):
        p1, p2 = self.post1, self.post2
        b = history.shape[0]
        return PostConvs(p1.masked_weight()[:, :, 0].T.contiguous(), _bias(p1),
                         p2.masked_weight()[:, :, 0].T.contiguous(), _bias(p2),
                         history.new_zeros(b, n_skip), history.new_zeros(b, n_skip))

    @torch.no_grad()
    def cond_projection(self, state, cond_t):
        """Every block's pre-activation share ``(n_blocks, B, 2R)`` of the local covariates
        ``cond_t (B, K)``: pass it to :meth:`step` as ``cond_proj`` to reuse it over the steps
        of one feature frame."""
        b = cond_t.shape[0]
        return (cond_t @ state.w_cond).view(b, len(self.blocks), -1).transpose(0, 1)

    def step(self, x_t, state, cond_t=None, cond_proj=None):
        """Raw parameters ``(B, P)`` for the next timestep given the past in ``state``.

        ``x_t (B, C)`` is the timestep being generated; only channels the masks let through are
        read (none for channel 0, channels < c for channel c's parameters), so a partly filled
        ``x_t`` is fine. ``cond_t (B, K)`` are the step's local covariates, or ``cond_proj``
        their :meth:`cond_projection`. Call :meth:`commit` with the full ``x_t`` to advance.
        """
        if torch.is_grad_enabled():        # (a no_grad decorator costs ~2 us per call)
            with torch.no_grad():
                return self.step(x_t, state, cond_t, cond_proj)
        blk, ring, conv, post = state.blocks, state.ring, state.input, state.post
        pre, k = blk.pre, ring.kernel_size
        if conv.current:
            torch.addmm(blk.inp, conv.step_inputs(x_t), conv.w_cur, out=blk.h0)
        if k == 2:
            taps = torch.index_select(ring.rows, 0, ring.reads, out=ring.taps)
            torch.baddbmm(blk.bias, taps, blk.w_past, out=pre)
        elif k > 2:
            taps = torch.index_select(ring.rows, 0, ring.reads, out=ring.taps)
            n, b = pre.shape[:2]
            torch.add(torch.bmm(taps, blk.w_past).view(n, k - 1, b, -1).sum(1), blk.bias,
                      out=pre)
        else:
            pre.copy_(blk.bias)
        if state.w_cond is not None:
            blk.pre_fg.add_(self.cond_projection(state, cond_t) if cond_proj is None else cond_proj)
        if blk.fused:
            blk.first_row.addmm_(blk.h0 if conv.current else blk.inp, blk.first_w)
            for layer in blk.layers:
                layer.pre.sigmoid_()                                # [sigmoid 2f, sigmoid g]
                layer.g.addcmul_(layer.f, layer.g, value=-2.0)      # -tanh(f) sigmoid(g)
                if layer.next_w is not None:                        # + [h W_cur | h] of the next
                    layer.next_row.addmm_(layer.gated_h, layer.next_w)
            u = blk.u_rows.transpose(0, 1).reshape(blk.u_shape)                 # (B, nR)
            torch.addmm(blk.b_skip, u, blk.w_skip, out=post.skip).relu_()
        else:
            for layer in blk.layers:
                layer.pre.addmm_(layer.h, layer.w_cur)              # + current tap
                layer.pre.sigmoid_()                                # [sigmoid 2f, sigmoid g]
                torch.addcmul(layer.g, layer.f, layer.g, value=-2.0, out=layer.u)
                if layer.w_res is not None:                         # residual
                    torch.addmm(layer.h, layer.u_one, layer.w_res, out=layer.h_next)
            torch.mm(blk.u_rows.view(blk.u_shape), blk.w_skip, out=post.skip).relu_()
        torch.addmm(post.b1, post.skip, post.w1, out=post.hidden).relu_()
        return torch.addmm(post.b2, post.hidden, post.w2)      # a new tensor: callers keep it

    def commit(self, state, x_t):
        """Push the generated timestep ``x_t (B, C)`` (finite: sampled values are) into every
        queue."""
        if torch.is_grad_enabled():
            with torch.no_grad():
                return self.commit(state, x_t)
        # no hidden unit sees the last channel of its own step (mask A), so the block inputs of
        # the last step() call are final
        ring = state.ring
        if ring.kernel_size > 1:
            ring.rows.index_copy_(0, ring.writes, state.blocks.h)
        state.t += 1
        ring.advance(state.t)
        state.input.push(x_t, state.blocks.inp)


# ---------------------------------------------------------------------------- generation state
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
    see the notes above :meth:`WaveNet.init_state`)."""

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


@torch.no_grad()
def generate(net, history, n_steps, cond=None, labels=None, naive=False, cond_index=None):
    """Sample ``n_steps`` timesteps after ``history (B, C, T0)``: returns ``(B, C, n_steps)``.

    ``cond (B, K, T0 + n_steps)`` covers history and future. With ``cond_index`` (a long tensor
    ``(T0 + n_steps,)``), ``cond (B, K, F)`` holds feature *frames* instead and timestep ``tau``
    reads column ``cond_index[tau]``: frame-rate features (e.g. log-mel frames, one per hop of
    samples) upsampled by repetition without materialising them at the sample rate; the cached
    path computes each frame's conditioning projection once and reuses it for the frame's steps.
    Draws use torch's global generator (seed it under ``torch.random.fork_rng``). ``naive=True``
    recomputes the full network over the receptive field at every step (the reference the
    cached path is tested against).
    """
    b, c, t0 = history.shape
    passes = range(c) if net.joint else [None]
    out = []                                                   # x_t (B, C) per step
    zeros = history.new_zeros(b, c)
    if cond is not None and cond_index is None:
        cond_index = torch.arange(t0 + n_steps, device=history.device)
    if cond is not None:
        cond_index = cond_index.to(history.device)
        columns = cond_index.tolist()

    def cond_window(lo, hi):                                                # (B, K, hi - lo)
        return None if cond is None else cond.index_select(2, cond_index[lo:hi])

    if naive:
        rf = net.receptive_field
        seq = torch.cat([history, history.new_zeros(b, c, n_steps)], dim=2)
    else:
        state = net.init_state(history, cond_window(0, t0), labels)
        frame, proj = None, None
    heads, joint = net.heads, net.joint                 # (attribute look-ups cost per step)
    for t in range(n_steps):
        x_t = zeros if not joint else history.new_zeros(b, c)
        if cond is not None and not naive and columns[t0 + t] != frame:
            frame = columns[t0 + t]
            proj = net.cond_projection(state, cond[:, :, frame])
        for ch in passes:
            if naive:
                lo = max(0, t0 + t - rf)
                seq[:, :, t0 + t] = x_t
                raw = net(seq[:, :, lo:t0 + t + 1], cond_window(lo, t0 + t + 1), labels)[:, :, -1]
            else:
                raw = net.step(x_t, state, cond_proj=proj)
            draw = heads.sample(raw)
            if ch is None:
                x_t = draw
            else:
                x_t[:, ch] = draw[:, ch]
        if naive:
            seq[:, :, t0 + t] = x_t
        else:
            net.commit(state, x_t)
        out.append(x_t)
    return torch.stack(out, dim=2) if out else history.new_empty(b, c, 0)
