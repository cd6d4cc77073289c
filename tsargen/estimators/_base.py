"""The base class of every tsargen estimator: registration for save/load, CPU pickling."""

import torch
from sklearn.base import BaseEstimator

from .._registry import Registered
from ._persistence import save_fitted


class TsargenEstimator(Registered, BaseEstimator):
    """Base of all tsargen estimators: save/load (a subclass is registered by name when it is
    defined) and CPU pickling."""

    def save(self, path):
        """Write the fitted estimator to one file (weights + JSON parameters); see :func:`load`.

        The file is written atomically (a temporary file, then renamed). Under
        ``torch.distributed`` only rank 0 writes; the other ranks return without writing.
        """
        save_fitted(self, path)
        return self

    def __getstate__(self):
        state = super().__getstate__()
        net = state.get("network_")
        if isinstance(net, torch.nn.Module):
            state["network_"] = net.cpu()
        return state
