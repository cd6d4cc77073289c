"""Distribution heads: raw network output -> per-channel likelihood.

A head turns ``raw`` of shape ``(..., C, n_params)`` into a distribution per channel and offers
``log_prob(raw, x) -> (..., C)``, ``sample(raw) -> (..., C)`` and ``mean(raw) -> (..., C)``.
Adding a head touches no network: a network only needs ``n_params`` per channel
(docs/architecture.md lists the steps).

Continuous heads (``gaussian``, ``student_t``, ``logistic_mixture``) are densities on the scaled
data. Binned heads (``categorical``, ``discretized_logistic_mixture``) put a probability on each
of ``n_bins`` bins with edges fitted from data (:meth:`BinnedHead.fit`); for continuous data the
density is piecewise uniform, ``P(bin) / width(bin)``, and for integer levels (``discrete=True``,
unit-width bins centred on the integers) ``log_prob`` is the exact log-probability mass.

NOTE (binned heads on continuous data): WaveNet's softmax covers a bounded range (mu-law audio
in [-1, 1]); here the two outer bins also carry exponential tails past the fitted edges (half
their mass, the bin width as scale), so the density is proper on the whole line and values
outside the training range keep a finite, falling log-density (:class:`BinnedHead`).
NOTE (scales): the log-scales of the logistic heads are clamped to ``[-7, 7]`` (PixelCNN++
clamps below only; see ``_MixtureParams``).

Sampling draws from torch's global generator; estimators seed it inside ``torch.random.fork_rng``
so that the caller's global state is left untouched.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

MIN_SCALE = 1e-3  # in scaled units; keeps densities finite on near-constant stretches


class Head(nn.Module):
    """Base class. Subclasses set ``n_params`` and implement ``log_prob``/``sample``/``mean``."""

    n_params = 0

    def __init__(self, n_channels=1):
        super().__init__()
        self.n_channels = n_channels

    def fit(self, values):
        """Data-dependent set-up from scaled training values ``(N, C)`` (NaN allowed)."""
        return self

    def config(self):
        """Keyword arguments that rebuild this head (JSON-serialisable)."""
        return {"n_channels": self.n_channels}


class _LocationScaleHead(Head):
    """A torch distribution built by ``_dist(raw)`` whose mean is the location ``raw[..., 0]``."""

    def _dist(self, raw):
        raise NotImplementedError

    def log_prob(self, raw, x):
        return self._dist(raw).log_prob(x)

    def sample(self, raw):
        return self._dist(raw).sample()

    def mean(self, raw):
        return raw[..., 0]


class GaussianHead(_LocationScaleHead):
    """Normal distribution: ``(loc, softplus -> scale)``."""

    n_params = 2

    def _dist(self, raw):
        return torch.distributions.Normal(raw[..., 0], F.softplus(raw[..., 1]) + MIN_SCALE,
                                          validate_args=False)


class StudentTHead(_LocationScaleHead):
    """Student's t: ``(loc, softplus -> scale, 2 + softplus -> df)``; df > 2 keeps a variance."""

    n_params = 3

    def _dist(self, raw):
        return torch.distributions.StudentT(2.0 + F.softplus(raw[..., 2]), raw[..., 0],
                                            F.softplus(raw[..., 1]) + MIN_SCALE,
                                            validate_args=False)


def _logistic_sample(loc, log_scale):
    u = torch.rand_like(loc).clamp_(1e-6, 1 - 1e-6)
    return loc + log_scale.exp() * (torch.log(u) - torch.log1p(-u))


def _pick(values, component):
    """``values[..., component]`` for a component index per batch element."""
    return values.gather(-1, component[..., None])[..., 0]


MIN_LOG_SCALE, MAX_LOG_SCALE = -7.0, 7.0


class _MixtureParams:
    """Split ``raw (..., 3M)`` into mixture logits, locations and log-scales clamped to
    ``[MIN_LOG_SCALE, MAX_LOG_SCALE]``.

    NOTE: PixelCNN++ clamps log-scales below at -7 only; the upper clamp keeps ``1/s`` from
    underflowing, which would give an inner bin of the discretized mixture ``-inf`` log-mass.
    """

    @staticmethod
    def split(raw, m):
        logits, loc, log_scale = raw.split(m, dim=-1)
        return logits, loc, log_scale.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)

    @staticmethod
    def draw_component(logits):
        return torch.distributions.Categorical(logits=logits, validate_args=False).sample()


class LogisticMixtureHead(Head):
    """Mixture of ``n_mixtures`` logistic densities (continuous)."""

    def __init__(self, n_mixtures=5, n_channels=1):
        super().__init__(n_channels)
        self.n_mixtures = n_mixtures
        self.n_params = 3 * n_mixtures

    def config(self):
        return {"n_mixtures": self.n_mixtures, "n_channels": self.n_channels}

    def log_prob(self, raw, x):
        logits, loc, log_scale = _MixtureParams.split(raw, self.n_mixtures)
        z = (x[..., None] - loc) * torch.exp(-log_scale)
        log_pdf = -z - log_scale - 2.0 * F.softplus(-z)
        return torch.logsumexp(F.log_softmax(logits, -1) + log_pdf, dim=-1)

    def sample(self, raw):
        logits, loc, log_scale = _MixtureParams.split(raw, self.n_mixtures)
        k = _MixtureParams.draw_component(logits)
        return _logistic_sample(_pick(loc, k), _pick(log_scale, k))

    def mean(self, raw):
        logits, loc, _ = _MixtureParams.split(raw, self.n_mixtures)
        return (F.softmax(logits, -1) * loc).sum(-1)


def mu_law_edges(n_bins, amplitude, mu=255.0):
    """Bin edges uniform in mu-law companded space over ``[-amplitude, amplitude]``."""
    u = torch.linspace(-1.0, 1.0, n_bins + 1, dtype=torch.float64)
    return amplitude * torch.sign(u) * torch.expm1(u.abs() * math.log1p(mu)) / mu


class BinnedHead(Head):
    """Base of heads with a probability per bin; bins fitted per channel from data.

    Parameters
    ----------
    n_bins : int
    quantization : {"uniform", "quantile", "mu_law", "levels"}
        How :meth:`fit` places the edges. ``"levels"`` means integer data ``0..n_bins-1``:
        unit bins centred on the integers, and ``log_prob`` is then the exact log mass.
    n_channels : int

    Notes
    -----
    On continuous data the density is the bin's mass over its width, and the outer bins
    also cover what lies beyond the fitted edges: each splits its mass equally between a
    uniform part over the bin and an exponential tail past the outer edge with the bin's
    width as scale (continuous at the edge). The density is then proper on the whole line,
    and a value far outside the fitted range gets a log-density that falls linearly with its
    distance, so outliers stay visible to ``score_samples`` and anomaly scores.
    """

    def __init__(self, n_bins=256, quantization="uniform", n_channels=1):
        super().__init__(n_channels)
        if quantization not in ("uniform", "quantile", "mu_law", "levels"):
            raise ValueError("quantization must be 'uniform', 'quantile', 'mu_law' or 'levels', "
                             f"got {quantization!r}")
        self.n_bins, self.quantization = int(n_bins), quantization
        self.discrete = quantization == "levels"
        if self.discrete:
            edges = torch.arange(self.n_bins + 1, dtype=torch.float32) - 0.5
        else:
            edges = torch.linspace(-3.0, 3.0, self.n_bins + 1)
        self.register_buffer("edges", edges.repeat(n_channels, 1))  # (C, n_bins + 1)
        outer = torch.zeros(self.n_bins, dtype=torch.bool)
        outer[0] = outer[-1] = True
        self.register_buffer("outer", outer, persistent=False)   # bins with a tail (continuous)

    def config(self):
        return {"n_bins": self.n_bins, "quantization": self.quantization,
                "n_channels": self.n_channels}

    @torch.no_grad()
    def fit(self, values):
        if self.discrete:
            return self
        rows = []
        for c in range(self.n_channels):
            v = values[:, c].double()
            v = v[torch.isfinite(v)]
            if v.numel() > 1_000_000:  # torch.quantile's input limit; a subsample is plenty
                v = v[torch.linspace(0, v.numel() - 1, 1_000_000).long()]
            lo, hi = (v.min().item(), v.max().item()) if v.numel() else (-1.0, 1.0)
            span = max(hi - lo, 1e-6)
            lo, hi = lo - 0.05 * span, hi + 0.05 * span
            if self.quantization == "uniform":
                e = torch.linspace(lo, hi, self.n_bins + 1, dtype=torch.float64)
            elif self.quantization == "mu_law":
                e = mu_law_edges(self.n_bins, max(abs(lo), abs(hi)))
            else:
                q = torch.quantile(v, torch.linspace(0, 1, self.n_bins + 1, dtype=torch.float64))
                q[0], q[-1] = lo, hi
                # ties (discrete-valued data) would give empty bins: enforce a minimum width
                widths = q.diff().clamp(min=1e-3 * (hi - lo) / self.n_bins)
                e = torch.cat([q[:1], q[0] + widths.cumsum(0)])
            rows.append(e)
        self.edges.copy_(torch.stack(rows).to(self.edges.dtype))
        return self

    @property
    def widths(self):  # (C, n_bins)
        return self.edges.diff(dim=-1)

    @property
    def centers(self):  # (C, n_bins)
        return 0.5 * (self.edges[:, 1:] + self.edges[:, :-1])

    def _n_parts(self, idx):
        """Parts a bin's mass is split into: 1, plus one per tail (outer bins, continuous)."""
        return 1 + (idx == 0).long() + (idx == self.n_bins - 1).long()

    @property
    def _bin_means(self):  # (C, n_bins): mean of the density within each bin and its tails
        if self.discrete:
            return self.centers
        w = self.widths
        total = self.centers.clone()
        total[:, 0] += self.edges[:, 0] - w[:, 0]          # left tail: mean edge - width
        total[:, -1] += self.edges[:, -1] + w[:, -1]       # right tail: mean edge + width
        return total / self._n_parts(torch.arange(self.n_bins, device=w.device))

    def bin_index(self, x):
        """Bin of each value ``x (..., C)``; values beyond the outer edges go to the outer bins."""
        flat = x.movedim(-1, 0).reshape(self.n_channels, -1).contiguous()
        inner = self.edges[:, 1:-1].contiguous()
        idx = torch.searchsorted(inner, flat.to(inner.dtype), right=True)
        return idx.reshape(x.movedim(-1, 0).shape).movedim(0, -1)

    def _per_channel(self, table, idx):
        """``table[c, idx[..., c]]`` for a ``(C, n_bins)`` table."""
        offsets = torch.arange(self.n_channels, device=idx.device) * self.n_bins
        return table.reshape(-1)[idx + offsets]

    def log_prob(self, raw, x):
        idx = self.bin_index(x)
        lp = self._log_mass(raw, idx)
        if not self.discrete:
            width = self._per_channel(self.widths, idx)
            lo, hi = self.edges[:, 0].to(x.dtype), self.edges[:, -1].to(x.dtype)
            beyond = (lo - x).clamp(min=0) + (x - hi).clamp(min=0)    # only in outer bins
            lp = lp - torch.log(width * self._n_parts(idx)) - beyond / width
        return lp

    def sample(self, raw):
        edges = self.edges
        # one call draws both uniforms of a value, (2, ..., C, 1): the bin's and the position in
        # it (each half contiguous, as searchsorted wants)
        u = torch.rand((2,) + raw.shape[:-1] + (1,), dtype=edges.dtype, device=edges.device)
        idx = self._sample_bin(raw, u[0])
        if self.discrete:                                   # unit bins centred on the levels
            return idx.to(edges.dtype)
        # uniform within the bin: lerp between its edges, taken from the (C, n_bins + 1) edge
        # table read as flat
        flat = idx
        if self.n_channels > 1:
            flat = idx + torch.arange(self.n_channels, device=idx.device) * (self.n_bins + 1)
        lo, hi, v = edges.take(flat), edges.take(flat + 1), u[1].squeeze(-1)
        if self.outer.take(idx).any():   # an outer bin: it has tails (kept off the fast path,
            return self._with_tails(idx, lo, hi, v)   # where every op costs at 1 path)
        return torch.lerp(lo, hi, v)

    def _with_tails(self, idx, lo, hi, v):
        """Draws in bins ``idx`` from uniforms ``v``: the uniform picks the part of the bin
        (uniform, left or right tail: see the class notes) and, rescaled, the position in it."""
        n_parts = self._n_parts(idx)
        v = v * n_parts
        part = v.floor().clamp_(max=2).long()
        v = v - part
        left_tail = (part == 1) & (idx == 0)
        right_tail = (part >= 1) & ~left_tail
        depth = -(hi - lo) * torch.log1p(-v)                # exponential, scale = bin width
        return torch.where(left_tail, lo - depth,
                           torch.where(right_tail, hi + depth, torch.lerp(lo, hi, v)))

    def mean(self, raw):
        return (self.log_prob_bins(raw).exp() * self._bin_means).sum(-1)

    def _bin_probs(self, raw):
        """Probability of every bin, ``(..., C, n_bins)``."""
        return torch.softmax(self.log_prob_bins(raw), dim=-1)

    def _sample_bin(self, raw, u):
        """Bin index ``(..., C)`` of a draw; ``u (..., C, 1)``: uniforms on [0, 1) to use."""
        # inverse CDF: a binary search, far cheaper per step than torch.distributions.Categorical
        # (a rounded total below u lands past the last bin: the clamp puts it there)
        cdf = self._bin_probs(raw).cumsum_(-1)
        return torch.searchsorted(cdf, u.to(cdf.dtype)).squeeze_(-1).clamp_(max=self.n_bins - 1)

    def log_prob_bins(self, raw):
        """Log-probability of every bin, ``(..., C, n_bins)``."""
        raise NotImplementedError

    def _log_mass(self, raw, idx):
        raise NotImplementedError


class CategoricalHead(BinnedHead):
    """Softmax over ``n_bins`` bins (WaveNet's 256-way mu-law softmax with ``"mu_law"``)."""

    @property
    def n_params(self):
        return self.n_bins

    def log_prob_bins(self, raw):
        return F.log_softmax(raw, dim=-1)

    def _bin_probs(self, raw):
        return torch.softmax(raw, dim=-1)

    def _log_mass(self, raw, idx):
        return _pick(F.log_softmax(raw, dim=-1), idx)


def _log1mexp(a):
    """``log(1 - exp(a))`` for ``a < 0``, accurate on the whole range (Maechler 2012)."""
    return torch.where(a > -math.log(2.0), torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))


class DiscretizedLogisticMixtureHead(BinnedHead):
    """PixelCNN++ discretized logistic mixture over ``n_bins`` ordered bins.

    Bin ``k`` covers ``[-1 + 2k/n, -1 + 2(k+1)/n]`` of the mixture's internal axis; the first and
    last bins take the tails, so the bins always sum to one. The mass of an inner bin is
    ``sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a))``, evaluated in log space:
    no NaN or -inf for any level or parameter value.

    NOTE: PixelCNN++ puts level centres at ``-1 .. 1``; here bin edges span ``[-1, 1]``. The
    family is the same up to an affine change of the mixture's axis.
    """

    def __init__(self, n_bins=256, quantization="uniform", n_mixtures=5, n_channels=1):
        super().__init__(n_bins, quantization, n_channels)
        self.n_mixtures = n_mixtures

    @property
    def n_params(self):
        return 3 * self.n_mixtures

    def config(self):
        return {**super().config(), "n_mixtures": self.n_mixtures}

    def _component_log_mass(self, raw, idx):
        """``(..., C, M)`` log mass of bin ``idx (..., C)`` under each component."""
        logits, loc, log_scale = _MixtureParams.split(raw, self.n_mixtures)
        inv_s = torch.exp(-log_scale)
        lo = (-1.0 + 2.0 * idx / self.n_bins).to(raw.dtype)[..., None]
        a = (lo + 2.0 / self.n_bins - loc) * inv_s          # upper edge, standardised
        b = (lo - loc) * inv_s                              # lower edge
        # b - a = -(2 / n_bins) / s, computed directly: the difference of two large
        # standardised edges would cancel in float32 far from the mixture's location
        inner = F.logsigmoid(a) + F.logsigmoid(-b) + _log1mexp(-(2.0 / self.n_bins) * inv_s)
        first, last = (idx == 0)[..., None], (idx == self.n_bins - 1)[..., None]
        mass = torch.where(first, F.logsigmoid(a), torch.where(last, F.logsigmoid(-b), inner))
        if self.n_bins == 1:
            mass = torch.zeros_like(mass)
        return F.log_softmax(logits, -1) + mass

    def _log_mass(self, raw, idx):
        return torch.logsumexp(self._component_log_mass(raw, idx), dim=-1)

    def log_prob_bins(self, raw):
        idx = torch.arange(self.n_bins, device=raw.device)                 # (n_bins,)
        raw_b = raw.unsqueeze(-2).expand(*raw.shape[:-1], self.n_bins, raw.shape[-1])
        idx_b = idx.expand(*raw.shape[:-1], self.n_bins)                    # (..., C, n_bins)
        return torch.logsumexp(self._component_log_mass(raw_b, idx_b), dim=-1)

    def _sample_bin(self, raw, u):
        # (u unused: the logistic draw needs its own uniforms.)
        # A logistic draw binned on the internal axis (tails to the edge bins) has exactly the
        # discretized distribution, without evaluating every bin.
        logits, loc, log_scale = _MixtureParams.split(raw, self.n_mixtures)
        k = _MixtureParams.draw_component(logits)
        v = _logistic_sample(_pick(loc, k), _pick(log_scale, k))
        return ((v + 1.0) * (self.n_bins / 2.0)).floor().clamp(0, self.n_bins - 1).long()


HEADS = {
    "gaussian": GaussianHead,
    "student_t": StudentTHead,
    "logistic_mixture": LogisticMixtureHead,
    "categorical": CategoricalHead,
    "discretized_logistic_mixture": DiscretizedLogisticMixtureHead,
}


def make_head(name, **kwargs):
    """Build a head by name (see ``HEADS``), e.g. ``make_head("categorical", n_bins=64)``."""
    if name not in HEADS:
        raise ValueError(f"unknown distribution {name!r}; choose one of {sorted(HEADS)}")
    return HEADS[name](**kwargs)


class HeadSet(nn.Module):
    """Heads for all channels of a series; channel ``c``'s parameters are contiguous, in order.

    Parameters
    ----------
    specs : list of dict
        ``{"name": str, "kwargs": dict, "channels": list[int]}`` per head; every channel
        ``0..C-1`` appears exactly once. ``kwargs`` must not contain ``n_channels``.

    Examples
    --------
    >>> hs = HeadSet([{"name": "gaussian", "kwargs": {}, "channels": [0, 1]}])
    >>> hs.n_params_per_channel
    [2, 2]
    >>> hs.log_prob(torch.zeros(5, 4), torch.zeros(5, 2)).shape   # (..., P) , (..., C)
    torch.Size([5, 2])
    """

    def __init__(self, specs):
        super().__init__()
        self.specs = [{"name": s["name"], "kwargs": dict(s.get("kwargs", {})),
                       "channels": [int(c) for c in s["channels"]]} for s in specs]
        chans = sorted(c for s in self.specs for c in s["channels"])
        if chans != list(range(len(chans))):
            raise ValueError(f"heads must cover channels 0..C-1 exactly once, got {chans}")
        self.n_channels = len(chans)
        self.heads = nn.ModuleList(
            make_head(s["name"], n_channels=len(s["channels"]), **s["kwargs"]) for s in self.specs)
        per_channel = [0] * self.n_channels
        for head, s in zip(self.heads, self.specs):
            for c in s["channels"]:
                per_channel[c] = head.n_params
        self.n_params_per_channel = per_channel
        starts = [0]
        for p in per_channel:
            starts.append(starts[-1] + p)
        self.n_params = starts[-1]
        self._identity = []
        for i, (head, s) in enumerate(zip(self.heads, self.specs)):
            idx = torch.tensor([starts[c] + j for c in s["channels"] for j in range(head.n_params)])
            self.register_buffer(f"_param_index{i}", idx, persistent=False)
            self._identity.append(s["channels"] == list(range(self.n_channels)))
        # one head for all channels in order (the common case): no splitting or recombining,
        # which costs microseconds per call when sampling one step at a time
        # (a tuple, so the head is not registered twice as a submodule)
        self._single = (self.heads[0],) if len(self.specs) == 1 and self._identity[0] else None

    def _split(self, raw):
        """Yield ``(head, channels, raw_h (..., C_h, P_h))`` for each head."""
        for i, (head, s) in enumerate(zip(self.heads, self.specs)):
            r = (raw if self._identity[i]
                 else raw.index_select(-1, getattr(self, f"_param_index{i}")))
            yield head, s["channels"], r.unflatten(-1, (len(s["channels"]), head.n_params))

    def _combine(self, parts, like):
        if len(parts) == 1:
            return parts[0][1]
        out = like.new_empty(*like.shape[:-1], self.n_channels)
        for chans, val in parts:
            out[..., chans] = val.to(out.dtype)
        return out

    def fit(self, values):
        """Fit data-dependent heads (bin edges) on scaled training values ``(N, C)``."""
        for head, s in zip(self.heads, self.specs):
            head.fit(values[:, s["channels"]])
        return self

    def log_prob(self, raw, x):
        """``raw (..., P)``, ``x (..., C)`` -> ``(..., C)``."""
        return self._combine([(ch, h.log_prob(r, x[..., ch])) for h, ch, r in self._split(raw)],
                             x)

    def sample(self, raw):
        """``raw (..., P)`` -> ``(..., C)``."""
        if self._single is not None:
            head, = self._single
            return head.sample(raw.unflatten(-1, (self.n_channels, head.n_params)))
        return self._combine([(ch, h.sample(r)) for h, ch, r in self._split(raw)], raw[..., :1])

    def mean(self, raw):
        return self._combine([(ch, h.mean(r)) for h, ch, r in self._split(raw)], raw[..., :1])
