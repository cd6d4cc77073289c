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

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.causal import ChannelMaskedConv1d, group_ids, split_evenly
from ..nn.gated import ResidualBlock
from ..nn.heads import HeadSet
from ._wavenet_state import FUSED_MAX_BATCH, build_state

# FUSED_MAX_BATCH is re-exported: tests pick batch sizes on either side of it
__all__ = ["FUSED_MAX_BATCH", "WaveNet", "generate"]


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
    # Fast WaveNet caching: init_state builds a WaveNetState (see _wavenet_state.py for the
    # layout that keeps a step to few torch ops); step and commit run only the per-step ops.

    @torch.no_grad()
    def init_state(self, history, cond=None, labels=None, paths=None):
        """Generation state primed with ``history (B, C, T0)`` (T0 may be 0) for :meth:`step`.

        ``cond (B, K, T0)`` and ``labels (B,)`` as in :meth:`forward`. The
        :class:`~tsargen.networks._wavenet_state.WaveNetState` holds one ring buffer of past
        inputs per layer (Fast WaveNet, Paine et al. 2016), preallocated work buffers and the
        layer weights in the form a step uses.

        ``paths`` (a long tensor ``(B,)``) shares priming: ``history``, ``cond`` and ``labels``
        then hold S distinct histories, and the state is that of B paths, path ``i``
        continuing history ``paths[i]``. The network runs over the S histories once, so
        priming time and memory scale with S, not with the number of paths.
        """
        return build_state(self, history, self._inputs(history), cond, self._global(labels),
                           paths)

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



@torch.no_grad()
def generate(net, history, n_steps, cond=None, labels=None, naive=False, cond_index=None,
             paths=None):
    """Sample ``n_steps`` timesteps after ``history (B, C, T0)``: returns ``(B, C, n_steps)``.

    ``cond (B, K, T0 + n_steps)`` covers history and future. With ``cond_index`` (a long tensor
    ``(T0 + n_steps,)``), ``cond (B, K, F)`` holds feature *frames* instead and timestep ``tau``
    reads column ``cond_index[tau]``: frame-rate features (e.g. log-mel frames, one per hop of
    samples) upsampled by repetition without materialising them at the sample rate; the cached
    path computes each frame's conditioning projection once and reuses it for the frame's steps.
    Draws use torch's global generator (seed it under ``torch.random.fork_rng``). ``naive=True``
    recomputes the full network over the receptive field at every step (the reference the
    cached path is tested against).

    ``paths`` (a long tensor ``(B,)``) draws B paths from S distinct histories: ``history (S,
    C, T0)`` and ``labels (S,)`` hold the histories, path ``i`` continues history
    ``paths[i]``, and the result is ``(B, C, n_steps)``. The cached path primes each history
    once (:meth:`WaveNet.init_state`); the draws are those of ``generate(net,
    history[paths], ..., labels[paths])``. ``cond`` still has one row per path; the paths of
    a history must agree on its first T0 columns (priming reads one of them).

    Examples
    --------
    >>> net = WaveNet([{"name": "gaussian", "channels": [0]}], n_stacks=1, n_layers=3)
    >>> history = torch.randn(2, 1, 20)                         # S = 2 distinct histories
    >>> paths = torch.arange(2).repeat_interleave(3)            # 3 paths each, B = 6
    >>> generate(net, history, 5, paths=paths).shape
    torch.Size([6, 1, 5])
    """
    if paths is not None and (naive or not len(paths)):     # the reference: no sharing
        history = history.index_select(0, paths)
        labels = None if labels is None else labels.index_select(0, paths)
        paths = None
    b, c, t0 = history.shape if paths is None else (paths.shape[0], *history.shape[1:])
    passes = range(c) if net.joint else [None]
    out = []                                                   # x_t (B, C) per step
    zeros = history.new_zeros(b, c)
    if cond is not None and cond_index is None:
        cond_index = torch.arange(t0 + n_steps, device=history.device)
    if cond is not None:
        cond_index = cond_index.to(history.device)
        columns = cond_index.tolist()

    def cond_window(lo, hi, rows=None):                     # (B, K, hi - lo), or those rows
        if cond is None:
            return None
        part = cond if rows is None else cond.index_select(0, rows)
        return part.index_select(2, cond_index[lo:hi])

    if naive:
        rf = net.receptive_field
        seq = torch.cat([history, history.new_zeros(b, c, n_steps)], dim=2)
    else:
        first = None                             # a path of each history, for its priming
        if paths is not None and cond is not None:
            first = paths.new_full((history.shape[0],), b).scatter_reduce(
                0, paths, torch.arange(b, device=paths.device), "amin").clamp_(max=b - 1)
        state = net.init_state(history, cond_window(0, t0, first), labels, paths)
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
