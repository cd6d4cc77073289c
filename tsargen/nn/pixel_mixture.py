"""PixelCNN++'s likelihood: a discretized logistic mixture over a whole pixel, with a linear
dependence between its channels.

Salimans et al. 2017 (arXiv:1701.05517), §2.1-2.2. Levels ``k = 0..L-1`` sit at
``v_k = 2k / (L - 1) - 1`` in ``[-1, 1]``; level ``k`` gets the mass of a logistic on
``[v_k - h, v_k + h]`` with ``h = 1 / (L - 1)``, the lowest level all the mass below
``-1 + h`` and the highest all the mass above ``1 - h``, so every component sums to one over
the levels. One mixture covers all ``C`` channels of a pixel (the mixture indicator is
shared), and channel ``c``'s mean is shifted linearly by the channels before it::

    mu_c = m_c + sum_{d < c} tanh(w_cd) v_d          (RGB: G += a R, B += b R + c G)

    p(x) = sum_k pi_k prod_c Logistic_k,c(x_c | mu_c, s_c)   (discretized).

:meth:`PixelLogisticMixture.log_prob` returns one log-probability per channel: the log-ratio
of consecutive prefix marginals ``log p(x_0..x_c) - log p(x_0..x_c-1)``, i.e.
``log p(x_c | x_<c)`` of the same joint, so the steps are autoregressive and sum to the joint.

Numerics: an inner level's mass is ``sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b)
(1 - exp(b - a))`` with ``b - a = -2h/s`` computed directly, all in log space: finite for any
finite mean and scale (no cancellation for means far outside ``[-1, 1]``).
NOTE: log-scales are clamped to ``[-7, 7]`` (the paper clamps below at -7 only; the upper
clamp keeps ``1/s`` from underflowing, which would give ``-inf`` for an inner level).
"""

import torch
import torch.nn.functional as F
from torch import nn

from .heads import MAX_LOG_SCALE, MIN_LOG_SCALE, _log1mexp


class PixelLogisticMixture(nn.Module):
    """Discretized logistic mixture over the ``C`` channels of a pixel (PixelCNN++).

    Raw parameters per pixel, ``P = M (1 + 2C + C(C-1)/2)`` (``10 M`` for RGB): ``M`` mixture
    logits, then per channel ``M`` means and ``M`` log-scales, then ``M`` coefficients per
    channel pair ``(c, d)``, ``d < c`` (pair index ``c(c-1)/2 + d``).

    Parameters
    ----------
    n_channels : int
    n_levels : int
        ``L >= 2`` levels per channel.
    n_mixtures : int

    Examples
    --------
    >>> lik = PixelLogisticMixture(n_channels=3, n_levels=256, n_mixtures=5)
    >>> lik.n_params
    50
    >>> raw = torch.zeros(4, 50)
    >>> x = torch.tensor([[0.0, 128.0, 255.0]]).expand(4, 3)     # levels (B, C)
    >>> lik.log_prob(raw, x).shape, lik.sample(raw).shape
    (torch.Size([4, 3]), torch.Size([4, 3]))
    """

    def __init__(self, n_channels=1, n_levels=256, n_mixtures=5):
        super().__init__()
        if n_levels < 2:
            raise ValueError(f"n_levels must be >= 2, got {n_levels}")
        self.n_channels, self.n_levels, self.n_mixtures = n_channels, n_levels, n_mixtures
        c, m = n_channels, n_mixtures
        self.n_pairs = c * (c - 1) // 2
        self.n_params = m * (1 + 2 * c + self.n_pairs)
        self.half_width = 1.0 / (n_levels - 1)

    def values(self, levels):
        """Levels ``0..L-1`` -> ``[-1, 1]``."""
        return levels * (2.0 * self.half_width) - 1.0

    def split(self, raw):
        """``raw (..., P)`` -> log mixture weights ``(..., M)``, means and clamped log-scales
        ``(..., C, M)``, coefficients ``tanh(w)`` ``(..., n_pairs, M)``."""
        c, m = self.n_channels, self.n_mixtures
        logits, loc, log_scale, coef = raw.split([m, c * m, c * m, self.n_pairs * m], dim=-1)
        shape = raw.shape[:-1]
        return (F.log_softmax(logits, dim=-1), loc.reshape(*shape, c, m),
                log_scale.reshape(*shape, c, m).clamp(MIN_LOG_SCALE, MAX_LOG_SCALE),
                torch.tanh(coef.reshape(*shape, self.n_pairs, m)))

    def _mean(self, loc, coef, v, c):
        """Mean of channel ``c`` given the values ``v (..., C)`` of the channels before it."""
        mu = loc[..., c, :]
        for d in range(c):
            mu = mu + coef[..., c * (c - 1) // 2 + d, :] * v[..., d, None]
        return mu

    def component_log_mass(self, level, mean, log_scale):
        """Log-probability of ``level`` under each discretized logistic; broadcasts."""
        h = self.half_width
        centre = self.values(level)
        inv_s = torch.exp(-log_scale)
        upper = (centre + h - mean) * inv_s
        lower = (centre - h - mean) * inv_s
        inner = F.logsigmoid(upper) + F.logsigmoid(-lower) + _log1mexp(-2.0 * h * inv_s)
        return torch.where(level <= 0, F.logsigmoid(upper),
                           torch.where(level >= self.n_levels - 1, F.logsigmoid(-lower), inner))

    def log_prob(self, raw, x):
        """``raw (..., P)``, levels ``x (..., C)`` -> ``log p(x_c | x_<c)`` ``(..., C)``."""
        log_w, loc, log_scale, coef = self.split(raw)
        v = self.values(x)
        masses = [self.component_log_mass(x[..., c, None], self._mean(loc, coef, v, c),
                                          log_scale[..., c, :])
                  for c in range(self.n_channels)]
        prefix = log_w[..., None, :] + torch.stack(masses, dim=-2).cumsum(dim=-2)  # (..., C, M)
        joint = torch.logsumexp(prefix, dim=-1)                                  # (..., C)
        return torch.diff(joint, dim=-1, prepend=torch.zeros_like(joint[..., :1]))

    def sample(self, raw):
        """Levels ``(..., C)`` (float) drawn from the mixture, channel after channel.

        One ``torch.rand`` call of ``C + 1`` uniforms per entry (the component, then one
        inverse-CDF draw per channel), from torch's global generator.
        """
        log_w, loc, log_scale, coef = self.split(raw)
        u = torch.rand(*raw.shape[:-1], self.n_channels + 1, dtype=raw.dtype,
                       device=raw.device)
        cdf = log_w.softmax(dim=-1).cumsum(dim=-1)
        k = torch.searchsorted(cdf, u[..., :1] * cdf[..., -1:]).clamp_(max=self.n_mixtures - 1)

        def pick(t):                                           # component k of (..., X, M)
            return t.gather(-1, k[..., None, :].expand(*t.shape[:-1], 1))

        loc, log_scale, coef = pick(loc), pick(log_scale), pick(coef)
        levels = torch.empty_like(u[..., 1:])
        v = torch.empty_like(levels)
        for c in range(self.n_channels):
            mu = self._mean(loc, coef, v, c)[..., 0]
            p = u[..., c + 1].clamp(1e-5, 1.0 - 1e-5)
            draw = mu + log_scale[..., c, 0].exp() * (torch.log(p) - torch.log1p(-p))
            # nearest level = the bin the draw falls in (the end bins take the tails)
            levels[..., c] = torch.round((draw + 1.0) / (2.0 * self.half_width)).clamp_(
                0, self.n_levels - 1)
            v[..., c] = self.values(levels[..., c])
        return levels

    def config(self):
        return {"n_channels": self.n_channels, "n_levels": self.n_levels,
                "n_mixtures": self.n_mixtures}


def log_prob_all_levels(lik, raw):
    """Joint log-probability of every level combination of one pixel, for tests:
    ``raw (..., P)`` -> ``(..., L ** C)`` in lexicographic order (channel 0 slowest)."""
    c, n = lik.n_channels, lik.n_levels
    grid = torch.cartesian_prod(*[torch.arange(n, dtype=raw.dtype)] * c).reshape(-1, c)
    lp = lik.log_prob(raw[..., None, :].expand(*raw.shape[:-1], len(grid), raw.shape[-1]),
                      grid.expand(*raw.shape[:-1], len(grid), c))
    return lp.sum(-1)


__all__ = ["PixelLogisticMixture", "log_prob_all_levels"]
