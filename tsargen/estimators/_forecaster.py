"""What every forecaster that draws sample paths shares (see docs/architecture.md)."""

import numpy as np
import pandas as pd


def interval_quantiles(coverages):
    """The quantile levels ``(lower_1, upper_1, lower_2, ...)`` of central intervals."""
    return np.stack([(1 - coverages) / 2, (1 + coverages) / 2], axis=1).ravel()


def quantiles_to_intervals(quant, coverages, one):
    """``predict_quantiles`` output at :func:`interval_quantiles` levels -> intervals: arrays
    ``(..., 2)`` for one coverage, ``(..., n_coverages, 2)`` for several (last axis lower,
    upper); DataFrames get columns ``(<variable levels>, coverage, bound)``. Lists map."""
    if isinstance(quant, list):
        return [quantiles_to_intervals(q, coverages, one) for q in quant]
    if isinstance(quant, pd.DataFrame):
        variables = quant.columns.droplevel(-1).unique()
        keys = [v if isinstance(v, tuple) else (v,) for v in variables]
        cols = pd.MultiIndex.from_tuples(
            [(*k, float(c), b) for k in keys for c in coverages for b in ("lower", "upper")],
            names=list(quant.columns.names[:-1]) + ["coverage", "bound"])
        return pd.DataFrame(quant.to_numpy(), index=quant.index, columns=cols)
    out = quant.reshape(*quant.shape[:-1], len(coverages), 2)
    return out[..., 0, :] if one else out
