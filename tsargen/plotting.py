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

import numpy as np
import pandas as pd


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


def _channel(values, channel):
    arr = np.asarray(values, dtype=float)
    return arr if arr.ndim == 1 else arr[..., channel]


# ---------------------------------------------------------------------------- forecasts
def plot_forecast(history, *, forecaster=None, samples=None, horizon=None,
                  quantiles=(0.1, 0.25, 0.5, 0.75, 0.9), truth=None, channel=0, ax=None,
                  title=None):
    """Fan chart: the history, the median forecast and nested central bands.

    Parameters
    ----------
    history : array-like (T,) or (T, C), pandas Series or DataFrame
        The observed series; a pandas index gives the time axis.
    forecaster : fitted forecaster, optional
        Its ``predict_quantiles(horizon, quantiles, y=history)`` draws the fan.
    samples : array-like (n_paths, horizon) or (n_paths, horizon, C), optional
        Sample paths instead of a forecaster (e.g. from ``sample``); quantiles are taken
        over them.
    horizon : int, optional
        With a forecaster: steps ahead (default: its ``horizon``).
    quantiles : sequence of float
        Levels symmetric around 0.5; each pair ``(q, 1 - q)`` is one band, 0.5 the median line.
    truth : array-like (horizon,) or (horizon, C), optional
        What actually happened, drawn as a line.
    channel : int, default=0
        Channel to show for multichannel data.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Lines: history, median, (truth); one filled band per quantile pair.
    """
    if (forecaster is None) == (samples is None):
        raise ValueError("pass exactly one of forecaster= and samples=.")
    q = np.sort(np.asarray(quantiles, dtype=float))
    if q.ndim != 1 or not np.all((q > 0) & (q < 1)):
        raise ValueError(f"quantiles must lie strictly between 0 and 1, got {quantiles!r}.")
    hist = _channel(history, channel)
    index = history.index if isinstance(history, (pd.Series, pd.DataFrame)) else None
    if forecaster is not None:
        levels = np.union1d(q, [0.5])
        out = forecaster.predict_quantiles(horizon, quantiles=tuple(levels), y=history)
        future_x = out.index if isinstance(out, pd.DataFrame) else None
        arr = np.asarray(out, dtype=float)
        h = arr.shape[0]
        arr = arr.reshape(h, -1, len(levels))                                 # (h, C, Q)
        arr = arr[:, channel if arr.shape[1] > 1 else 0]                        # (h, Q)
        band = {lv: arr[:, i] for i, lv in enumerate(levels)}
    else:
        paths = np.asarray(samples, dtype=float)
        if paths.ndim == 3:
            paths = paths[..., channel]
        if paths.ndim != 2:
            raise ValueError("samples must be (n_paths, horizon) or (n_paths, horizon, C); got "
                             f"shape {np.shape(samples)}.")
        h = paths.shape[1]
        levels = np.union1d(q, [0.5])
        band = dict(zip(levels, np.quantile(paths, levels, axis=0)))
        future_x = None
        if index is not None:
            from .estimators._base import future_index
            future_x = future_index(index, h)
    hist_x = index if index is not None else np.arange(len(hist))
    if future_x is None:
        future_x = np.arange(len(hist), len(hist) + h)
    fig, (ax,) = _figure(ax, figsize=(8, 3.2))
    ax.plot(hist_x, hist, color="black", lw=1, label="history")
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
    if truth is not None:
        ax.plot(future_x, _channel(truth, channel)[:h], color="tab:red", lw=1, label="truth")
    ax.axvline(future_x[0], color="grey", ls=":", lw=1)
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


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


def plot_signal_image(forecast, truth=None, *, history=None, cmap="viridis",
                      titles=("truth", "forecast"), bin_label="bin"):
    """A signal-image forecast ``(horizon, n_bins)`` next to the truth, time on the x axis.

    ``history (T, n_bins)`` is drawn before the forecast in each panel, separated by a dashed
    line. Both panels share one colour scale and a colour bar. Returns a Figure with one
    image axes per panel (truth first) and the colour bar's axes.
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
    shown = [p if past is None else np.vstack([past, p]) for p in panels]
    vmin = min(np.nanmin(s) for s in shown)
    vmax = max(np.nanmax(s) for s in shown)
    fig, axes = _figure(n_axes=len(shown), n_cols=len(shown), figsize=(4.2 * len(shown), 3.2),
                        sharey=True)
    for ax, img, name in zip(axes, shown, names):
        im = ax.imshow(img.T, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        if past is not None:
            ax.axvline(len(past) - 0.5, color="white", ls="--", lw=1)
        ax.set_title(name)
        ax.set_xlabel("time")
    axes[0].set_ylabel(bin_label)
    fig.colorbar(im, ax=axes)
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
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per element)")
    ax.legend(fontsize="small")
    return fig
