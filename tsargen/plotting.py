"""Figures for forecasts, samples, signal-images and training curves (matplotlib, optional).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
state, no display needed: save it with ``fig.savefig(path)``, or let a notebook show it). With
``ax=`` the plot goes into an existing axes and its figure is returned. matplotlib is the
optional extra ``plot``: ``pip install "tsargen[plot]"``.

Examples
--------
>>> import numpy as np
>>> from tsargen.plotting import plot_forecast
>>> history = np.sin(np.arange(50) / 4)
>>> paths = history[-1] + np.random.default_rng(0).normal(size=(100, 10)).cumsum(1) * 0.1
>>> fig = plot_forecast(history, samples=paths)
>>> len(fig.axes), len(fig.axes[0].collections)          # one axes, two fan bands
(1, 2)
"""

import numbers

import numpy as np
import pandas as pd

from .metrics import _long_frame_paths
from .timeindex import future_index

# matplotlib is optional (the extra "plot"): it is imported inside the functions that draw


def _figure(ax=None, n_axes=1, n_cols=None, figsize=None, **kwargs):
    """A new pyplot-free Figure with a grid of axes, or the figure of ``ax``."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("tsargen.plotting needs matplotlib; install it with "
                          "pip install 'tsargen[plot]' (or pip install matplotlib).") from err
    if ax is not None:
        return ax.figure, [ax]
    n_cols = n_cols or n_axes
    n_rows = -(-n_axes // n_cols)
    fig = Figure(figsize=figsize or (min(3.2 * n_cols, 12), 2.8 * n_rows + 0.4),
                 layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, **kwargs).ravel()
    for extra in axes[n_axes:]:
        fig.delaxes(extra)
    return fig, list(axes[:n_axes])


def _pick(arr, channel, n_channels, what):
    """Channel ``channel`` of ``arr`` (last axis), or ``arr`` itself when it has one channel."""
    if arr.ndim == 1:
        return arr
    if arr.shape[-1] == 1:
        return arr[..., 0]
    if arr.shape[-1] != n_channels:
        raise ValueError(f"{what} has {arr.shape[-1]} channels but the forecast {n_channels}.")
    return arr[..., channel]


def _sample_paths(samples):
    """Sample paths ``(n_paths, horizon, C)`` and their time labels (or None) from an array
    ``(n_paths, horizon[, C])`` or the long (sample, time) frame of a forecaster's ``sample``."""
    if isinstance(samples, (list, tuple)) and any(
            isinstance(s, (pd.Series, pd.DataFrame)) for s in samples):
        raise ValueError("samples is a list of frames (one per series, from a forecaster of "
                         "several series): pass one series' samples, e.g. samples[0].")
    if isinstance(samples, (pd.Series, pd.DataFrame)):
        idx = samples.index
        if not (isinstance(idx, pd.MultiIndex) and idx.nlevels == 2):
            raise ValueError("samples as pandas must be the long frame of a forecaster's "
                             "sample(): indexed by (sample, time), one column per channel; got "
                             f"an index of {idx.nlevels} level(s) {list(idx.names)}.")
        return _long_frame_paths(samples)
    paths = np.asarray(samples, dtype=float)
    if paths.ndim not in (2, 3) or 0 in paths.shape:
        raise ValueError("samples must be paths (n_paths, horizon) or (n_paths, horizon, C) "
                         "with at least one path, step and channel, or the long (sample, time) "
                         f"frame of a forecaster's sample(); got shape {paths.shape}.")
    return (paths[..., None] if paths.ndim == 2 else paths), None


# ---------------------------------------------------------------------------- forecasts
def plot_forecast(history, *, forecaster=None, samples=None, horizon=None, X=None,
                  quantiles=(0.1, 0.25, 0.5, 0.75, 0.9), truth=None, channel=0, ax=None,
                  title=None):
    """Fan chart: the history, the median forecast and nested central bands.

    Parameters
    ----------
    history : array-like (T,) or (T, C), pandas Series or DataFrame
        The observed series; a pandas index gives the time axis.
    forecaster : fitted forecaster, optional
        Its ``predict_quantiles(horizon, quantiles, y=history, X=X)`` draws the fan.
    samples : array-like (n_paths, horizon) or (n_paths, horizon, C), or DataFrame, optional
        Sample paths instead of a forecaster; quantiles are taken over them. The long
        DataFrame a forecaster's ``sample`` returns for pandas input (indexed by (sample,
        time), one column per channel) is unstacked into paths, its time level giving the
        forecast's time axis.
    horizon : int, optional
        With a forecaster: steps ahead (default: its ``horizon``).
    X : array-like or DataFrame, optional
        With a forecaster fitted with covariates: the covariates covering the history and the
        horizon, as for ``predict(y=history, X=X)``.
    quantiles : sequence of float
        Levels symmetric around 0.5; each pair ``(q, 1 - q)`` is one band, 0.5 the median line.
    truth : array-like (horizon,) or (horizon, C), optional
        What actually happened, drawn as a line (a shorter truth covers the first steps).
    channel : int, default=0
        Channel to show for multichannel data (position, from 0). A single-channel history,
        forecast or truth is shown as it is.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Lines: history, median, (truth); one filled band per quantile pair.
    """
    if (forecaster is None) == (samples is None):
        raise ValueError("pass exactly one of forecaster= and samples=.")
    if X is not None and forecaster is None:
        raise ValueError("X= goes with forecaster=; for samples=, pass X to sample() instead.")
    q = np.sort(np.asarray(quantiles, dtype=float))
    if q.ndim != 1 or not np.all((q > 0) & (q < 1)):
        raise ValueError(f"quantiles must lie strictly between 0 and 1, got {quantiles!r}.")
    levels = np.union1d(q, [0.5])
    hist_all = np.asarray(history, dtype=float)
    if hist_all.ndim not in (1, 2):
        raise ValueError(f"history must be (T,) or (T, C); got shape {hist_all.shape}.")
    index = history.index if isinstance(history, (pd.Series, pd.DataFrame)) else None
    if forecaster is not None:
        extra = {} if X is None else {"X": X}
        out = forecaster.predict_quantiles(horizon, quantiles=tuple(levels), y=history, **extra)
        future_x = out.index if isinstance(out, pd.DataFrame) else None
        arr = np.asarray(out, dtype=float)
        qarr = arr.reshape(arr.shape[0], -1, len(levels))                    # (h, C, Q)
    else:
        paths, future_x = _sample_paths(samples)                           # (n, h, C)
        qarr = np.moveaxis(np.quantile(paths, levels, axis=0), 0, -1)       # (h, C, Q)
    h, n_fc = qarr.shape[0], qarr.shape[1]
    n_channels, channel = _channel(channel, n_fc, 1 if hist_all.ndim == 1 else hist_all.shape[1])
    hist = _pick(hist_all, channel, n_channels, "history")
    qarr = qarr[:, channel if n_fc > 1 else 0]                              # (h, Q)
    if future_x is None and index is not None:
        future_x = future_index(index, h)
    hist_x = index if index is not None else np.arange(len(hist))
    if future_x is None:
        future_x = np.arange(len(hist), len(hist) + h)
    fig, (ax,) = _figure(ax, figsize=(8, 3.2))
    ax.plot(hist_x, hist, color="black", lw=1, label="history")
    _draw_fan(ax, future_x, levels, qarr)
    if truth is not None:
        t = _pick(np.asarray(truth, dtype=float), channel, n_channels, "truth")[:h]
        ax.plot(future_x[:len(t)], t, color="tab:red", lw=1, label="truth")
    ax.axvline(future_x[0], color="grey", ls=":", lw=1)
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def _channel(channel, n_fc, n_hist):
    """The number of channels shown and ``channel`` checked against it, from 0."""
    n_channels = max(n_fc, n_hist)
    if min(n_fc, n_hist) > 1 and n_fc != n_hist:
        raise ValueError(f"history has {n_hist} channels but the forecast {n_fc}.")
    if (isinstance(channel, bool) or not isinstance(channel, numbers.Integral)
            or not -n_channels <= channel < n_channels):
        raise ValueError(f"channel must be an integer in 0..{n_channels - 1} (the data has "
                         f"{n_channels} channel{'s' if n_channels > 1 else ''}); got "
                         f"{channel!r}.")
    return n_channels, int(channel) % n_channels


def _draw_fan(ax, future_x, levels, qarr):
    """One band per quantile pair ``(q, 1 - q)`` of ``levels``, darker inside, and the median
    line; ``qarr (h, Q)`` holds the quantiles at ``levels``."""
    band = {lv: qarr[:, i] for i, lv in enumerate(levels)}
    lower = [lv for lv in levels if lv < 0.5]
    for k, lo in enumerate(lower):
        hi = 1 - lo
        if not np.any(np.isclose(levels, hi)):
            continue
        up = band[levels[np.argmin(np.abs(levels - hi))]]
        ax.fill_between(future_x, band[lo], up, color="tab:blue",
                        alpha=0.15 + 0.5 * (k + 1) / (len(lower) + 1), lw=0,
                        label=f"{100 * (hi - lo):.0f}% interval")
    ax.plot(future_x, band[levels[np.argmin(np.abs(levels - 0.5))]], color="tab:blue", lw=1.5,
            label="median")


# ---------------------------------------------------------------------------- images
def plot_samples(images, *, n_cols=None, n_levels=None, cmap="gray", titles=None):
    """A grid of images ``(n, H, W)`` or ``(n, H, W, C)`` (e.g. an image density's samples).

    Three-channel images are shown as RGB scaled by ``n_levels`` (default: the data maximum
    + 1); other images with ``cmap``. Returns a Figure with one axes (one image) per sample.
    """
    arr = np.asarray(images)
    if arr.ndim not in (3, 4) or arr.shape[0] == 0:
        raise ValueError(f"images must be (n, H, W) or (n, H, W, C) with n >= 1; got shape "
                         f"{arr.shape}.")
    n = arr.shape[0]
    if titles is not None:
        titles = list(titles)
        if len(titles) != n:
            raise ValueError(f"titles has {len(titles)} entries but there are {n} images: pass "
                             "one title per image.")
    n_cols = n_cols or min(n, 8)
    fig, axes = _figure(n_axes=n, n_cols=n_cols, figsize=(1.6 * n_cols, 1.6 * -(-n // n_cols)))
    top = float(n_levels - 1) if n_levels else float(max(arr.max(), 1))
    for i, ax in enumerate(axes):
        img = arr[i]
        if img.ndim == 3 and img.shape[2] == 3:
            ax.imshow(np.clip(img / top, 0, 1), interpolation="nearest")
        else:
            ax.imshow(img[..., 0] if img.ndim == 3 else img, cmap=cmap, vmin=0, vmax=top,
                      interpolation="nearest")
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="small")
    return fig


def _format_labels(labels, positions):
    """Tick texts for the entries ``positions`` of an axis labelled by ``labels`` (an Index)."""
    values = labels[np.asarray(positions, dtype=int)]
    if isinstance(labels, pd.DatetimeIndex):
        if (labels == labels.normalize()).all():
            fmt = "%Y-%m-%d"
        elif labels.normalize().nunique() == 1:
            fmt = "%H:%M:%S.%f" if (labels.microsecond != 0).any() else "%H:%M:%S"
        else:
            fmt = "%m-%d %H:%M"
        texts = [v.strftime(fmt) for v in values]
        return [t[:-3] if fmt.endswith("%f") else t for t in texts]         # milliseconds
    if pd.api.types.is_float_dtype(labels.dtype):
        return [f"{v + 0.0:g}" for v in values]
    return [str(v) for v in values]


def _axis_ticks(labels, n_ticks):
    """Tick positions (in pixels) and texts for an image axis whose pixels are ``labels``:
    round values of evenly spaced numeric labels, else a few labelled pixels."""
    m = len(labels)
    if m == 1:
        return np.array([0.0]), _format_labels(labels, [0])
    from matplotlib.ticker import MaxNLocator

    if pd.api.types.is_numeric_dtype(labels.dtype) and not pd.api.types.is_bool_dtype(
            labels.dtype):
        v = np.asarray(labels, dtype=float)
        step = np.diff(v)
        if np.isfinite(v).all() and step[0] != 0 and np.allclose(step, step[0], rtol=1e-6,
                                                                  atol=0):
            nice = MaxNLocator(nbins=n_ticks, steps=[1, 2, 2.5, 5, 10])
            values = nice.tick_values(min(v[0], v[-1]), max(v[0], v[-1]))
            pos = (values - v[0]) / step[0]
            keep = (pos >= -0.5) & (pos <= m - 0.5)
            return pos[keep], [f"{t + 0.0:g}" for t in values[keep]]
    pos = MaxNLocator(nbins=n_ticks, integer=True, steps=[1, 2, 5, 10]).tick_values(
        0, m - 1)
    pos = pos[(pos >= 0) & (pos <= m - 1)].round().astype(int)
    return pos.astype(float), _format_labels(labels, pos)


def plot_signal_image(forecast, truth=None, *, history=None, cmap="viridis",
                      titles=("truth", "forecast"), bin_label=None, value_label="value"):
    """A signal-image forecast ``(horizon, n_bins)`` next to the truth, time on the x axis.

    ``history (T, n_bins)`` is drawn before the forecast in each panel, separated by a dashed
    line. Both panels share one colour scale and a colour bar labelled ``value_label`` (e.g.
    ``"log depth"`` for an order-book image). DataFrames label the axes: their columns (e.g.
    ticks from the mid, Hz) the bin axis, their index (the history's followed by the
    forecast's) the time axis; the bin axis is titled ``bin_label`` (default: the columns'
    name, else ``"bin"``) and the time axis by the index name (else ``"time"``). Returns a
    Figure with one image axes per panel (truth first) and the colour bar's axes.
    """
    fc = np.asarray(forecast, dtype=float)
    panels = ([np.asarray(truth, dtype=float)] if truth is not None else []) + [fc]
    names = list(titles)[-len(panels):] if truth is not None else [list(titles)[-1]]
    for p in panels:
        if p.ndim != 2:
            raise ValueError(f"signal-images must be 2-D (time, bins); got shape {p.shape}.")
    if truth is not None and panels[0].shape != fc.shape:
        raise ValueError(f"truth has shape {panels[0].shape} but forecast {fc.shape}.")
    past = None if history is None else np.asarray(history, dtype=float)
    if past is not None and (past.ndim != 2 or past.shape[1] != fc.shape[1]):
        raise ValueError(f"history must be (T, {fc.shape[1]}); got shape {past.shape}.")
    frames = [d for d in (forecast, truth, history) if isinstance(d, pd.DataFrame)]
    bins = frames[0].columns if frames else pd.RangeIndex(fc.shape[1])
    for d in frames[1:]:
        if not d.columns.equals(bins):
            raise ValueError("forecast, truth and history have different columns (bins): "
                             f"{list(bins)[:4]}... and {list(d.columns)[:4]}...")
    rows = next((d.index for d in (forecast, truth) if isinstance(d, pd.DataFrame)), None)
    if past is None:
        times = rows
    elif isinstance(history, pd.DataFrame):
        times = history.index
        if rows is None:
            try:
                rows = future_index(times, len(fc))
            except TypeError:
                rows = None
        times = None if rows is None else times.append(rows)
    else:
        times = None
    n_rows = len(fc) + (0 if past is None else len(past))
    if times is None:
        times = pd.RangeIndex(n_rows)
    shown = [p if past is None else np.vstack([past, p]) for p in panels]
    vmin = min(np.nanmin(s) for s in shown)
    vmax = max(np.nanmax(s) for s in shown)
    fig, axes = _figure(n_axes=len(shown), n_cols=len(shown), figsize=(4.2 * len(shown), 3.2),
                        sharey=True)
    x_pos, x_text = _axis_ticks(times, 5)
    y_pos, y_text = _axis_ticks(bins, 7)
    rotate = max(len(t) for t in x_text) > 6
    for ax, img, name in zip(axes, shown, names):
        im = ax.imshow(img.T, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        if past is not None:
            ax.axvline(len(past) - 0.5, color="white", ls="--", lw=1)
        ax.set_xticks(x_pos, x_text)
        if rotate:
            ax.tick_params(axis="x", labelrotation=30)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        ax.set_title(name)
        ax.set_xlabel(times.name if times.name is not None else "time")
    axes[0].set_yticks(y_pos, y_text)
    if bin_label is None:
        bin_label = bins.name if bins.name is not None else "bin"
    axes[0].set_ylabel(bin_label)
    fig.colorbar(im, ax=axes, label=value_label)
    return fig


# ---------------------------------------------------------------------------- training
def plot_training(estimator=None, *, loss_curve=None, val_loss_curve=None, ax=None):
    """Training and validation loss per epoch (an estimator's ``loss_curve_`` and
    ``val_loss_curve_``, or the curves themselves), with the best validation epoch marked.

    Returns a Figure with one line per curve (plus the best-epoch marker)."""
    if estimator is not None:
        if not hasattr(estimator, "loss_curve_"):
            raise ValueError(f"{type(estimator).__name__} has no loss_curve_: fit it first.")
        loss_curve = estimator.loss_curve_
        val_loss_curve = getattr(estimator, "val_loss_curve_", None)
    if loss_curve is None or len(loss_curve) == 0:
        raise ValueError("no loss curve to plot: pass a fitted estimator or loss_curve=.")
    fig, (ax,) = _figure(ax, figsize=(5, 3.2))
    epochs = np.arange(1, len(loss_curve) + 1)
    ax.plot(epochs, loss_curve, marker=".", label="training")
    if val_loss_curve is not None and len(val_loss_curve):
        ax.plot(epochs[:len(val_loss_curve)], val_loss_curve, marker=".", label="validation")
        best = int(np.argmin(val_loss_curve))
        ax.plot([best + 1], [val_loss_curve[best]], "k*", ms=10,
                label=f"best (epoch {best + 1})")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per element)")
    ax.legend(fontsize="small")
    return fig
