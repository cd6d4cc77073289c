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
    # init_state builds the state; step and commit only run the per-step ops.

    @torch.no_grad()
    def init_state(self, history, cond=None, labels=None):
        """Generation state primed with ``history (B, C, T0)`` (T0 may be 0) for :meth:`step`.

        ``cond (B, K, T0)`` and ``labels (B,)`` as in :meth:`forward`. The state holds one ring
        buffer of past inputs per layer (Fast WaveNet, Paine et al. 2016), preallocated work
        buffers and the layer weights in the form a step uses.
        """
        b, c, t0 = history.shape
        blocks = list(self.blocks)
        n, k = len(blocks), self.input.kernel_size[0]
        r = blocks[0].n_res
        g = self._global(labels)
        x_in = self._inputs(history)                                          # (B, 2C, T0)
        new, dev = history.new_zeros, history.device

        # ring buffers: block l's inputs at times tau live in rows off_l + tau mod len_l
        lens = [(k - 1) * blk.dilated.dilation[0] for blk in blocks]
        offs = [sum(lens[:i]) for i in range(n)]
        ring = new(sum(lens), b, r)
        if t0:
            h = self.input(x_in)
            for blk, ln, off in zip(blocks, lens, offs):
                lo = max(0, t0 - ln)
                if ln:
                    rows = off + torch.arange(lo, t0, device=dev) % ln
                    ring[rows] = h[:, :, lo:t0].permute(2, 0, 1)
                h, _ = blk(h, cond, g)
        two = torch.cat([new(r).fill_(2.0), new(r).fill_(1.0)])             # filter rows * 2

        # dilated convs: past taps (oldest first) for the batched matmul, current tap per block
        wd = torch.stack([blk.dilated.masked_weight() for blk in blocks]) * two[:, None, None]
        wp = wd[..., :k - 1].permute(0, 3, 2, 1).reshape(n * (k - 1), r, 2 * r).contiguous()
        wc = wd[..., k - 1].transpose(1, 2).contiguous()                        # (n, R, 2R)
        bias = torch.stack([_bias(blk.dilated) for blk in blocks]) * two       # (n, 2R)
        bias = bias[:, None, :]                                                 # (n, 1, 2R)
        if g is not None:
            bias = bias + torch.stack([blk.glob(g) for blk in blocks]) * two   # (n, B, 2R)
        bias = bias.expand(n, b, 2 * r).contiguous()
        cw = None
        if blocks[0].cond is not None:                                          # (K, n * 2R)
            cw = torch.stack([blk.cond.weight[:, :, 0] for blk in blocks]) * two[:, None]
            cw = cw.permute(2, 0, 1).reshape(-1, n * 2 * r).contiguous()
        # 1x1 output convs; the row after each block's weights is its bias (ones column in u)
        wr, ws = [], []
        for blk in blocks:
            w, bo = blk.out.masked_weight()[:, :, 0], _bias(blk.out)          # (R + S, R)
            wr.append(torch.cat([-w[:r].T, bo[None, :r]]).contiguous())         # (R + 1, R)
            ws.append(torch.cat([-w[r:].T, bo[None, r:]]))                     # (R + 1, S)

        # ring rows of the past taps (oldest first) as a function of time
        lag = torch.tensor([(k - 1 - j) * blk.dilated.dilation[0]
                            for blk in blocks for j in range(k - 1)], dtype=torch.long, device=dev)
        rep = torch.tensor(lens, dtype=torch.long, device=dev).repeat_interleave(k - 1)
        base = torch.tensor(offs, dtype=torch.long, device=dev).repeat_interleave(k - 1)
        index = {"lag": lag, "len": rep, "base": base, "reads": None}
        period = math.lcm(*lens) if k > 1 else 1
        if k > 1 and period <= 4096 and period * n * (k - 1) <= 2 ** 20:  # small: tabulate
            times = torch.arange(period, device=dev)[:, None]
            table = (times - lag) % rep + base                                 # (period, n(k-1))
            index["reads"] = list(table)
            index["writes"] = list(table[:, ::k - 1].contiguous())    # oldest tap's rows
            index["period"] = period

        # input conv (mask A): past taps give a per-step constant, the current tap (joint
        # channels only) is applied in step()
        w_in = self.input.masked_weight()                                       # (R, 2C, k)
        w_cur = w_in[:, :, k - 1].T.contiguous()                                # (2C, R)
        w_past = w_in[:, :, :k - 1].permute(2, 1, 0).reshape(-1, r).contiguous()
        xs = [x_in[:, :, t] if t >= 0 else new(b, 2 * c) for t in range(t0 - k + 1, t0)]

        # a generated step's inputs are [(x - loc) / scale, 0 flags]: with one past tap (k = 2)
        # commit folds that into the input conv, (b_in + shift @ W, inv * W) on the value rows
        inv, shift = 1.0 / self.input_scale, -self.input_loc / self.input_scale
        fold = None
        if k == 2:
            wv = w_past[:c]                                                    # value rows
            fold = (_bias(self.input) + shift @ wv, (inv[:, None] * wv).contiguous())
        in_cur = bool(w_cur.any())
        fused = b <= FUSED_MAX_BATCH
        if fused:
            # one row [f | g | h] per block, all rows one (n, B, 3R) buffer: the past taps write
            # [p | 0] plus the previous block's residual bias (br, and br @ W_cur for p), then
            # block l's addmm adds [h_l+1 @ W_cur | h_l+1] to row l+1 in place
            pre = new(n, b, 3 * r)
            hbuf = pre[:, :, 2 * r:]                                               # (n, B, R)
            wp = torch.cat([wp, wp.new_zeros(wp.shape[0], r, r)], dim=2)
            bias = torch.cat([bias, bias.new_zeros(n, b, r)], dim=2)
            if n > 1:
                br = torch.stack([w[r] for w in wr[:-1]])                            # (n-1, R)
                bias[1:, :, :2 * r] += torch.bmm(br[:, None, :], wc[1:])
                bias[1:, :, 2 * r:] += br[:, None, :]
            inp, h0 = new(b, r), (new(b, r) if in_cur else None)
            eye = torch.eye(r, dtype=wc.dtype, device=dev)
            layers = []
            for i in range(n):
                w = nxt = None
                if i + 1 < n:              # rows: -u (in the g slot), then h       (2R, 3R)
                    w = torch.cat([torch.cat([wr[i][:r] @ wc[i + 1], wr[i][:r]], dim=1),
                                   torch.cat([wc[i + 1], eye], dim=1)]).contiguous()
                    nxt = pre[i + 1]
                layers.append((pre[i, :, :2 * r], pre[i, :, :r], pre[i, :, r:2 * r],
                               pre[i, :, r:], nxt, w))
            first = (torch.cat([wc[0], eye], dim=1).contiguous(), pre[0])
            urows = pre[:, :, r:2 * r]                                   # -u of every block
            ws_u = torch.cat([w[:r] for w in ws]).contiguous()                       # (nR, S)
            skip_w = (ws_u, sum(w[r] for w in ws))
        else:
            hbuf = new(n, b, r)                                                 # block inputs
            ubuf = new(b, n, r + 1)                                             # gated outputs
            ubuf[:, :, r] = 1.0
            pre = pbuf = new(n, b, 2 * r)                                       # pre-activations
            inp = new(b, r) if in_cur else hbuf[0]
            h0, first, urows = hbuf[0], None, ubuf
            skip_w = (torch.cat(ws).contiguous(), None)                         # (n(R+1), S)
            layers = []
            for i in range(n):
                layers.append((pbuf[i], pbuf[i, :, :r], pbuf[i, :, r:], ubuf[:, i, :r],
                               ubuf[:, i], hbuf[i], hbuf[i + 1] if i + 1 < n else None, wc[i],
                               wr[i] if i + 1 < n else None))
        if xs:
            torch.addmm(_bias(self.input), torch.cat(xs, dim=1), w_past, out=inp)
        else:
            inp.copy_(_bias(self.input).expand_as(inp))
        p1, p2 = self.post1, self.post2
        state = {
            "t": t0, "k": k, "index": index, "ring": ring, "idx": None, "fused": fused,
            "hp": new(n * (k - 1), b, r), "wp": wp, "bias": bias, "cw": cw, "pre": pre,
            "pre_p": pre[:, :, :2 * r], "first": first, "h0": h0,
            "layers": layers, "hbuf": hbuf, "urows": urows, "skip_w": skip_w,
            "u2d_shape": (b, skip_w[0].shape[0]),
            "in_cur": in_cur, "w_cur": w_cur, "w_past": w_past, "b_in": _bias(self.input),
            "standardise": (inv, shift, new(b, c)), "fold": fold,
            "inp": inp, "xs": xs,
            "post_bufs": (new(b, skip_w[0].shape[1]), new(b, skip_w[0].shape[1])),
            "post": (p1.masked_weight()[:, :, 0].T.contiguous(), _bias(p1),
                     p2.masked_weight()[:, :, 0].T.contiguous(), _bias(p2)),
        }
        _advance(state)
        return state

    @torch.no_grad()
    def cond_projection(self, state, cond_t):
        """Every block's pre-activation share ``(n_blocks, B, 2R)`` of the local covariates
        ``cond_t (B, K)``: pass it to :meth:`step` as ``cond_proj`` to reuse it over the steps
        of one feature frame."""
        b = cond_t.shape[0]
        return (cond_t @ state["cw"]).view(b, len(self.blocks), -1).transpose(0, 1)

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
        st = state
        pre, k = st["pre"], st["k"]
        if st["in_cur"]:
            torch.addmm(st["inp"], _step_inputs(st, x_t), st["w_cur"], out=st["h0"])
        if k == 2:
            hp = torch.index_select(st["ring"], 0, st["idx"], out=st["hp"])
            torch.baddbmm(st["bias"], hp, st["wp"], out=pre)
        elif k > 2:
            hp = torch.index_select(st["ring"], 0, st["idx"], out=st["hp"])
            n, b = pre.shape[:2]
            torch.add(torch.bmm(hp, st["wp"]).view(n, k - 1, b, -1).sum(1), st["bias"],
                      out=pre)
        else:
            pre.copy_(st["bias"])
        if st["cw"] is not None:
            st["pre_p"].add_(self.cond_projection(st, cond_t) if cond_proj is None else cond_proj)
        w_skip, b_skip = st["skip_w"]
        skip, hidden = st["post_bufs"]
        if st["fused"]:
            w0, out0 = st["first"]
            out0.addmm_(st["h0"] if st["in_cur"] else st["inp"], w0)      # + [h_0 W_cur | h_0]
            for p, pf, pg, gh, nxt, w in st["layers"]:
                p.sigmoid_()                                    # [sigmoid 2f, sigmoid g]
                pg.addcmul_(pf, pg, value=-2.0)                 # -tanh(f) sigmoid(g)
                if w is not None:
                    nxt.addmm_(gh, w)                           # + [h W_cur | h] of the next
            u2d = st["urows"].transpose(0, 1).reshape(st["u2d_shape"])      # (B, nR)
            torch.addmm(b_skip, u2d, w_skip, out=skip).relu_()
        else:
            for p, pf, pg, uf, ua, h, h_next, wc, wr in st["layers"]:
                p.addmm_(h, wc)                                 # + current tap
                p.sigmoid_()                                    # [sigmoid 2f, sigmoid g]
                torch.addcmul(pg, pf, pg, value=-2.0, out=uf)   # -tanh(f) sigmoid(g)
                if wr is not None:
                    torch.addmm(h, ua, wr, out=h_next)          # residual
            torch.mm(st["urows"].view(st["u2d_shape"]), w_skip, out=skip).relu_()
        w1, b1, w2, b2 = st["post"]
        torch.addmm(b1, skip, w1, out=hidden).relu_()
        return torch.addmm(b2, hidden, w2)                     # a new tensor: callers keep it

    def commit(self, state, x_t):
        """Push the generated timestep ``x_t (B, C)`` (finite: sampled values are) into every
        queue."""
        if torch.is_grad_enabled():
            with torch.no_grad():
                return self.commit(state, x_t)
        st = state
        # no hidden unit sees the last channel of its own step (mask A), so the block inputs of
        # the last step() call are final
        if st["k"] > 1:
            st["ring"].index_copy_(0, st["write"], st["hbuf"])
        st["t"] += 1
        _advance(st)
        xs = st["xs"]
        if st["fold"] is not None:         # one past tap: standardisation folded in
            torch.addmm(st["fold"][0], x_t, st["fold"][1], out=st["inp"])
        elif xs:
            xs.pop(0)
            xs.append(_step_inputs(st, x_t))
            past = xs[0] if len(xs) == 1 else torch.cat(xs, dim=1)
            torch.addmm(st["b_in"], past, st["w_past"], out=st["inp"])
        else:
            st["inp"].copy_(st["b_in"].expand_as(st["inp"]))


def _bias(conv):
    """A conv's bias, or zeros."""
    if conv.bias is not None:
        return conv.bias.detach()
    return conv.weight.new_zeros(conv.weight.shape[0])


def _step_inputs(state, x_t):
    """The network inputs ``(B, 2C)`` of a generated step ``x_t (B, C)``: standardised values
    and all-zero missing flags (what :meth:`WaveNet._inputs` gives for finite values, in two
    ops instead of eight)."""
    inv, shift, flags = state["standardise"]
    return torch.cat([torch.addcmul(shift, x_t, inv), flags], dim=1)


def _advance(state):
    """Ring rows read (past taps, oldest first) and written at the state's current time."""
    ix, t = state["index"], state["t"]
    if state["k"] < 2:
        return
    if ix["reads"] is not None:                    # tabulated: two list look-ups
        state["idx"] = ix["reads"][t % ix["period"]]
        state["write"] = ix["writes"][t % ix["period"]]
        return
    idx = (t - ix["lag"]) % ix["len"] + ix["base"]
    state["idx"] = idx
    state["write"] = idx[::state["k"] - 1]         # the oldest tap's row is overwritten


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
