"""An equal-weight mixture of independently trained WaveNets (a deep ensemble).

Lakshminarayanan, Pritzel & Blundell, "Simple and Scalable Predictive Uncertainty Estimation
using Deep Ensembles", NeurIPS 2017: networks trained from different random initialisations
are combined by averaging their predictive distributions.

Here the average is taken for every element's conditional: for members ``m = 1..M``,

    p(x_{t,c} | x_<(t,c)) = 1/M * sum_m p_m(x_{t,c} | x_<(t,c)),

where ``x_<(t,c)`` is everything before element ``(t, c)`` in the members' order (earlier
timesteps, and earlier channels of step ``t`` under joint channel dependence). Each conditional
is a mixture, so the product over elements is an exact, normalised autoregressive density: its
log-likelihood is the log-mean-exp of the members' per-element log-likelihoods, and sampling
draws each element from a member chosen uniformly at random. Generation therefore advances every
member's cache at every step (``M`` times the work of one network).

NOTE: this is not the sequence-level mixture ``1/M sum_m p_m(x)``, whose conditionals weight the
members by how well each explains the past (and, for long series, follow one member only). The
element-wise mixture keeps the averaging benefit at every step of a forecast.
"""

import math

import torch
from torch import nn

from .wavenet import WaveNet


class MixtureHeads:
    """Sampling side of the element-wise mixture: ``raw (..., M * P)`` holds the members' raw
    parameters one after the other; each element is drawn from a uniformly chosen member.

    A plain object over the members' own head sets (which the member networks register), so
    their fitted state is stored once and moves with the networks."""

    def __init__(self, heads):
        self.members = tuple(heads)
        self.n_channels = heads[0].n_channels
        self.n_params = heads[0].n_params
        self.specs = heads[0].specs        # the members share their head layout

    def sample(self, raw):
        """``raw (..., M * P)`` -> ``(..., C)``."""
        parts = raw.unflatten(-1, (len(self.members), self.n_params))       # (..., M, P)
        draws = torch.stack([h.sample(parts[..., m, :])
                             for m, h in enumerate(self.members)])           # (M, ..., C)
        pick = torch.randint(len(self.members), draws.shape[1:], device=raw.device)
        return draws.gather(0, pick.unsqueeze(0)).squeeze(0)


class WaveNetEnsemble(nn.Module):
    """Equal-weight element-wise mixture of WaveNets with the same heads and receptive field.

    Parameters
    ----------
    members : list of WaveNet or of dict
        Trained networks, or their ``config`` dicts (to rebuild a saved ensemble).

    Examples
    --------
    >>> spec = [{"name": "gaussian", "channels": [0]}]
    >>> ens = WaveNetEnsemble([WaveNet(spec, n_stacks=1, n_layers=3) for _ in range(2)])
    >>> x = torch.randn(4, 1, 30)
    >>> ens.log_prob(x).shape                    # (B, C, T): log-mean-exp over the members
    torch.Size([4, 1, 30])
    >>> ens(x).shape                             # (B, M * P, T): the members' raw parameters
    torch.Size([4, 4, 30])
    """

    def __init__(self, members):
        super().__init__()
        nets = [m if isinstance(m, WaveNet) else WaveNet(**m) for m in members]
        if len(nets) < 1:
            raise ValueError("an ensemble needs at least one member network.")
        first = nets[0]
        for net in nets[1:]:
            if (net.receptive_field != first.receptive_field or net.joint != first.joint
                    or net.heads.specs != first.heads.specs):
                raise ValueError("ensemble members must share heads, channel dependence and "
                                 "receptive field.")
        self.members = nn.ModuleList(nets)
        self.config = dict(members=[n.config for n in nets])
        self.heads = MixtureHeads([n.heads for n in nets])
        self.n_channels = first.n_channels
        self.joint = first.joint
        self.receptive_field = first.receptive_field

    # ------------------------------------------------------------------ full forward pass
    def forward(self, x, cond=None, labels=None):
        """``x (B, C, T)`` -> the members' raw parameters side by side ``(B, M * P, T)``."""
        return torch.cat([m(x, cond, labels) for m in self.members], dim=1)

    def log_prob(self, x, cond=None, labels=None):
        """Per-element log-likelihood ``(B, C, T)`` of the mixture."""
        lp = torch.stack([m.log_prob(x, cond, labels) for m in self.members])  # (M, B, C, T)
        return torch.logsumexp(lp, dim=0) - math.log(len(self.members))

    # ------------------------------------------------------------------ incremental generation
    def init_state(self, history, cond=None, labels=None, paths=None):
        """The members' generation states: a list of one
        :class:`~tsargen.networks._wavenet_state.WaveNetState` per member
        (:meth:`WaveNet.init_state`, ``paths`` included)."""
        return [m.init_state(history, cond, labels, paths) for m in self.members]

    def cond_projection(self, state, cond_t):
        return [m.cond_projection(s, cond_t) for m, s in zip(self.members, state)]

    def step(self, x_t, state, cond_t=None, cond_proj=None):
        """The members' raw parameters ``(B, M * P)`` for the next timestep."""
        projs = cond_proj if cond_proj is not None else [None] * len(self.members)
        return torch.cat([m.step(x_t, s, cond_t, p)
                          for m, s, p in zip(self.members, state, projs)], dim=-1)

    def commit(self, state, x_t):
        for m, s in zip(self.members, state):
            m.commit(s, x_t)
