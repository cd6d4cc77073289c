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

NOTE (missing values): the input is ``[x with NaN -> 0, isnan(x)]``, so the network knows which
past values were missing; estimators mask NaN targets out of the loss and left-pad series with
NaN, so "no history" and "a history of zeros" are different inputs.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.causal import ChannelMaskedConv1d, TapQueue, group_ids, split_evenly
from ..nn.gated import ResidualBlock
from ..nn.heads import HeadSet


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
    @staticmethod
    def _inputs(x):
        """``x (B, C, T)`` with NaN -> ``(B, 2C, T)``: values (NaN as 0) and missing flags."""
        missing = torch.isnan(x)
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
    @torch.no_grad()
    def init_state(self, history, cond=None, labels=None):
        """Queues primed with ``history (B, C, T0)`` (T0 may be 0) for :meth:`step`."""
        g = self._global(labels)
        x_in = self._inputs(history)
        h = self.input(x_in)
        queues = [self.input.queue(x_in)]
        for block in self.blocks:
            queues.append(block.dilated.queue(h))
            h, _ = block(h, cond, g)
        empty = history.new_zeros(history.shape[0], 1, 0)
        return {
            "queues": queues,
            "out": [TapQueue(b.out, empty) for b in self.blocks],
            "glob": [None if g is None else b.glob(g) for b in self.blocks],      # (B, 2R)
            "cond": [None if b.cond is None else b.cond.weight[:, :, 0].T for b in self.blocks],
            "post": [TapQueue(self.post1, empty), TapQueue(self.post2, empty)],
            "pending": None,
        }

    @torch.no_grad()
    def step(self, x_t, state, cond_t=None):
        """Raw parameters ``(B, P)`` for the next timestep given the past in ``state``.

        ``x_t (B, C)`` is the timestep being generated; only channels the masks let through are
        read (none for channel 0, channels < c for channel c's parameters), so a partly filled
        ``x_t`` is fine. Call :meth:`commit` with the full ``x_t`` to advance.
        """
        x_in = self._inputs(x_t[:, :, None])[:, :, 0]
        q = state["queues"]
        h = q[0](x_in)
        pending, skip = [], 0
        r = self.blocks[0].n_res if len(self.blocks) else 0
        for block, queue, out, gb, cw in zip(self.blocks, q[1:], state["out"], state["glob"],
                                             state["cond"]):
            pending.append(h)
            z = queue(h)
            if gb is not None:
                z = z + gb
            if cw is not None:
                z = z + cond_t @ cw
            rs = out(torch.tanh(z[:, :r]) * torch.sigmoid(z[:, r:]))
            h = h + rs[:, :r]
            skip = skip + rs[:, r:]
        state["pending"] = pending
        p1, p2 = state["post"]
        return p2(F.relu(p1(F.relu(skip))))

    @torch.no_grad()
    def commit(self, state, x_t):
        """Push the generated timestep ``x_t (B, C)`` into every queue."""
        state["queues"][0].push(self._inputs(x_t[:, :, None])[:, :, 0])
        # no hidden unit sees the last channel of its own step (mask A), so the hidden values of
        # the last step() call are final
        for queue, h in zip(state["queues"][1:], state["pending"]):
            queue.push(h)


@torch.no_grad()
def generate(net, history, n_steps, cond=None, labels=None, naive=False):
    """Sample ``n_steps`` timesteps after ``history (B, C, T0)``: returns ``(B, C, n_steps)``.

    ``cond (B, K, T0 + n_steps)`` covers history and future. Draws use torch's global generator
    (seed it under ``torch.random.fork_rng``). ``naive=True`` recomputes the full network over
    the receptive field at every step (the reference the cached path is tested against).
    """
    b, c, t0 = history.shape
    passes = range(c) if net.joint else [None]
    out = history.new_empty(b, c, n_steps)
    if naive:
        rf = net.receptive_field
        seq = torch.cat([history, history.new_zeros(b, c, n_steps)], dim=2)
    else:
        state = net.init_state(history, None if cond is None else cond[:, :, :t0], labels)
    for t in range(n_steps):
        x_t = history.new_zeros(b, c)
        for ch in passes:
            if naive:
                lo = max(0, t0 + t - rf)
                seq[:, :, t0 + t] = x_t
                window_cond = None if cond is None else cond[:, :, lo:t0 + t + 1]
                raw = net(seq[:, :, lo:t0 + t + 1], window_cond, labels)[:, :, -1]
            else:
                raw = net.step(x_t, state, None if cond is None else cond[:, :, t0 + t])
            draw = net.heads.sample(raw)
            if ch is None:
                x_t = draw
            else:
                x_t[:, ch] = draw[:, ch]
        if naive:
            seq[:, :, t0 + t] = x_t
        else:
            net.commit(state, x_t)
        out[:, :, t] = x_t
    return out
