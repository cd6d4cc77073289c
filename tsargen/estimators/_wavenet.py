"""What the WaveNet estimators share: hyperparameters, heads, the network, training, scoring
and generation in scaled units (see docs/architecture.md).

Values are standardised per channel before the network sees them; log-likelihoods are
reported in the data's original units by adding the log-Jacobian ``-log(scale)``.
"""

import functools
import os
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import torch

from ..constraints import Interval, Options, validate_params
from ..networks.ensemble import WaveNetEnsemble
from ..networks.wavenet import WaveNet, generate
from ..nn.heads import HEADS
from ._base import TsargenEstimator
from ._checkpoint import fit_fingerprint
from ._runtime import resolve_device, seeded, torch_threads
from ._training import TRAINING_PARAMS, SeriesBank, train, window_nll

_SCORE_BATCH = 256
_SCORE_ELEMENTS = 2 ** 18        # timesteps per scoring batch (bounds activation memory)
POSITION_HARMONICS = 2           # Fourier harmonics of the time_position covariates


def scale_stats(values, center=True):
    """Per-channel (loc, scale) of ``values (N, C)``, NaN-aware. A constant channel is scaled
    by its magnitude (1 when it is 0), so a series constant at 0.001 keeps forecasts of
    that size. ``center=False``: loc 0 and the root-mean-square about 0 as the scale, so the
    scaled values are O(1) even when their mean dwarfs their spread (a steady trend's
    differences)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN channels: handled below
        if not values.size:
            return np.zeros(values.shape[1]), np.ones(values.shape[1])
        if center:
            loc, scale = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        else:
            loc, scale = np.zeros(values.shape[1]), np.sqrt(np.nanmean(values ** 2, axis=0))
    loc = np.where(np.isfinite(loc), loc, 0.0)
    flat = ~(np.isfinite(scale) & (scale > 1e-12 * np.maximum(np.abs(loc), 1.0)))
    scale = np.where(flat, np.where(np.abs(loc) > 1e-12, np.abs(loc), 1.0), scale)
    return loc, scale


def on_threads(method):
    """Run ``method`` on the estimator's ``n_threads`` torch threads (see
    :func:`~tsargen.estimators._runtime.torch_threads`): training, scoring and generation."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with torch_threads(self.n_threads):
            return method(self, *args, **kwargs)
    return run


def check_observed(series, name):
    """Every channel needs an observed value somewhere, or the network cannot learn it."""
    seen = np.logical_or.reduce([np.isfinite(v).any(axis=0) for v in series])      # (C,)
    if not seen.any():
        raise ValueError(f"{name} has no observed values (no timesteps, or all NaN); pass "
                         "series with data.")
    if not seen.all():
        raise ValueError(f"{name} has no observed value in channel(s) "
                         f"{np.flatnonzero(~seen).tolist()} (all NaN): drop those channels or "
                         "pass data for them.")


def panel_columns(X):
    """Channel names of a panel given as a list of DataFrames (all the same), else None."""
    if not (isinstance(X, (list, tuple)) and X and all(isinstance(s, pd.DataFrame) for s in X)):
        return None
    names = [list(s.columns) for s in X]
    if any(n != names[0] for n in names):
        raise ValueError("the DataFrames in X have different columns; give every series the "
                         "same channels in the same order.")
    return names[0]


def column_index(meta):
    """The columns of a DataFrame series as it came in: names (``columns.name``) and
    MultiIndex levels kept."""
    cols, names = meta["columns"], meta.get("column_names")
    if cols and all(isinstance(c, tuple) for c in cols):
        return pd.MultiIndex.from_tuples(cols, names=names)
    return pd.Index(cols, name=names[0] if names else None)


def as_tensor(values):
    return torch.as_tensor(np.ascontiguousarray(values), dtype=torch.float32)


class WaveNetParams(TsargenEstimator):
    """Hyperparameters and network plumbing shared by the WaveNet estimators."""

    _min_series_length = 1
    _parameter_constraints = {
        **{name: [Interval(Integral, 1, None)] for name in (
            "n_stacks", "n_layers", "residual_channels", "skip_channels", "n_bins",
            "n_mixtures", "n_networks")},
        "kernel_size": [Interval(Integral, 2, None)],
        "distribution": [str, dict],        # the names and channels: _head_specs
        "quantization": [Options(("uniform", "quantile", "mu_law", "levels"))],
        "channel_dependence": [Options(("joint", "independent"))],
        "n_threads": [None, Interval(Integral, 1, None)],
        **TRAINING_PARAMS,
    }

    # ------------------------------------------------------------------ parameter checks
    def _receptive_field(self):
        return (self.kernel_size - 1) * (1 + self.n_stacks * (2 ** self.n_layers - 1))

    def _check_params(self):
        validate_params(self)
        resolve_device(self.device)                    # "cuda" needs a CUDA device here

    def _head_specs(self, n_channels, columns=None):
        """Head specs from ``distribution``: one name for every channel, or a dict channel ->
        name or ``{"name": ..., **kwargs}`` (keys: channel positions or column names)."""
        defaults = {"categorical": {"n_bins": self.n_bins, "quantization": self.quantization},
                    "discretized_logistic_mixture": {"n_bins": self.n_bins,
                                                     "quantization": self.quantization,
                                                     "n_mixtures": self.n_mixtures},
                    "logistic_mixture": {"n_mixtures": self.n_mixtures}}

        def spec(value, channels):
            if isinstance(value, str):
                name, kwargs = value, {}
            elif isinstance(value, dict) and "name" in value:
                name, kwargs = value["name"], {k: v for k, v in value.items() if k != "name"}
            else:
                raise ValueError("distribution entries must be a head name or a dict with a "
                                 f"'name' key; got {value!r}.")
            if name not in HEADS:
                raise ValueError(f"unknown distribution {name!r}; choose one of {sorted(HEADS)}.")
            return {"name": name, "kwargs": {**defaults.get(name, {}), **kwargs},
                    "channels": channels}

        dist = self.distribution
        if not isinstance(dist, dict) or "name" in dist:
            return [spec(dist, list(range(n_channels)))]
        positions = {}
        for key, value in dist.items():
            if columns is not None and key in columns:
                pos = columns.index(key)
            elif isinstance(key, Integral) and 0 <= key < n_channels:
                pos = int(key)
            else:
                raise ValueError(f"distribution names channel {key!r}, which the data does not "
                                 f"have ({n_channels} channels"
                                 + (f": {columns}" if columns else "") + ").")
            positions[pos] = value
        missing = sorted(set(range(n_channels)) - set(positions))
        if missing:
            raise ValueError(f"distribution gives no head for channels {missing}; give one per "
                             "channel, or a single name for all.")
        return [spec(positions[c], [c]) for c in range(n_channels)]

    def _check_levels(self, values, name, specs=None):
        """Channels with ``quantization="levels"`` must hold the integers ``0..n_bins-1`` (NaN:
        missing). ``specs``: the head specs (default: the fitted network's)."""
        if specs is None:
            specs = self.network_.heads.specs
        n_levels = {c: s["kwargs"]["n_bins"] for s in specs
                    if s["kwargs"].get("quantization") == "levels" for c in s["channels"]}
        if not n_levels:
            return
        cols = sorted(n_levels)
        top = np.array([n_levels[c] - 1 for c in cols], dtype=float)
        for i, v in enumerate(values):
            x = v[:, cols]                                              # (T, L)
            with np.errstate(invalid="ignore"):
                bad = ~np.isnan(x) & ((x != np.round(x)) | (x < 0) | (x > top))
            if bad.any():
                t, j = np.argwhere(bad)[0]
                where = f"{name}[{i}]" if len(values) > 1 else name
                raise ValueError(
                    f"{where} holds {x[t, j]:g} at timestep {t} of channel {cols[j]}, but "
                    f"quantization='levels' with n_bins={n_levels[cols[j]]} takes the integers "
                    f"0..{n_levels[cols[j]] - 1}: encode the data as levels (e.g. "
                    "tsargen.transforms.Quantizer or MuLaw) or raise n_bins.")

    @staticmethod
    def _unscaled_channels(specs, n_channels):
        """Channels holding integer levels are not standardised."""
        keep = np.zeros(n_channels, dtype=bool)
        for s in specs:
            if s["kwargs"].get("quantization") == "levels":
                keep[s["channels"]] = True
        return keep

    def _build_network(self, specs, n_channels, cond_channels=0, n_classes=0):
        net = WaveNet(specs, n_stacks=self.n_stacks, n_layers=self.n_layers,
                      kernel_size=self.kernel_size, residual_channels=self.residual_channels,
                      skip_channels=self.skip_channels,
                      channel_dependence=self.channel_dependence, cond_channels=cond_channels,
                      n_classes=n_classes)
        with torch.no_grad():   # integer levels 0..n-1 enter the network as [-1, 1]
            for s in specs:
                if s["kwargs"].get("quantization") == "levels":
                    half = (s["kwargs"]["n_bins"] - 1) / 2.0
                    net.input_loc[s["channels"]] = half
                    net.input_scale[s["channels"]] = max(half, 0.5)
        return net

    @on_threads
    def _fit_network(self, net, bank, device, checkpoint=None, desc=None, seed=None):
        """Fit heads on the training values, then run the training loop (resumable from
        ``checkpoint``, see :func:`~tsargen.estimators._training.train`)."""
        if bank.window is None:
            values = torch.cat([bank.data[bank.offsets[i] + a: bank.offsets[i] + b]
                                for i, (a, b) in enumerate(bank.train_ranges)])
        else:   # the targets as the network sees them: each scaled by its window's statistics
            values = torch.cat([x[:, :, bank.pad:].transpose(1, 2)[keep] for x, _, _, keep in
                                bank.tiles(bank.train_ranges, _SCORE_BATCH)])          # (N, C)
        net.heads.fit(values)
        has_val = bank.n_val_targets > 0
        result = train(
            net,
            lambda: bank.train_batches(self.batch_size),
            (lambda: bank.val_batches(self.batch_size)) if has_val else None,
            lambda n, b: window_nll(n, b, bank.pad),
            max_epochs=self.max_epochs, lr=self.lr, patience=self.patience,
            ema_decay=self.ema_decay,
            verbose=self.verbose, device=device, desc=desc or self._progress_name() + (
                f" [network 1/{self.n_networks}]" if self.n_networks > 1 else ""),
            checkpoint=checkpoint, seed=seed,
            fingerprint="" if checkpoint is None else fit_fingerprint(
                self, bank.data, bank.cov, bank.labels, bank.train_ranges, bank.val_ranges))
        return result

    def _ensemble(self, net, build, bank, device, seed, checkpoint=None):
        """``net`` alone, or with ``n_networks > 1`` the element-wise mixture of ``net`` and
        ``n_networks - 1`` more networks from ``build()``, each initialised and trained on
        ``bank`` under a seed of its own (checkpoints: ``checkpoint`` + ``".<i>"``)."""
        if self.n_networks == 1:
            return net
        nets, name = [net], self._progress_name()
        for i in range(1, self.n_networks):
            with seeded(int(np.random.SeedSequence([seed, i]).generate_state(1)[0]), device):
                other = build()
                self._fit_network(other, bank, device,
                                  None if checkpoint is None else f"{os.fspath(checkpoint)}.{i}",
                                  desc=f"{name} [network {i + 1}/{self.n_networks}]")
            nets.append(other.cpu())
        return WaveNetEnsemble(nets)

    def _progress_name(self):
        """What the progress bar calls this fit."""
        return type(self).__name__

    def _n_targets(self, lengths):
        return max(1, min(max(self._receptive_field(), 32), max(lengths)))

    # ------------------------------------------------------------------ scoring helpers
    def _device(self):
        return resolve_device(self.device)

    @on_threads
    @torch.no_grad()
    def _log_prob_scaled(self, series, covariates=None, labels=None, cov_hop=1):
        """Per-element log-likelihood (scaled units) for a list of scaled float32 series.

        Each series is left-padded with ``receptive_field_`` NaN rows, as in training.
        ``covariates``: one ``(F_i, K)`` tensor per series, one row per ``cov_hop`` timesteps
        (repeated per batch, zeros on padding). Returns a list of arrays ``(T_i, C)``.
        """
        net, pad, device = self.network_, self.receptive_field_, self._device()
        net.to(device)
        out = []
        b = 0
        try:
            while b < len(series):
                # long series (audio) go in smaller batches: about _SCORE_ELEMENTS timesteps each
                t_max = max(s.shape[0] for s in series[b:b + _SCORE_BATCH])
                n = max(1, min(_SCORE_BATCH, _SCORE_ELEMENTS // (pad + t_max)))
                chunk = series[b:b + n]
                t_max = max(s.shape[0] for s in chunk)
                c = chunk[0].shape[1]
                x = torch.full((len(chunk), pad + t_max, c), float("nan"))
                cov = None
                for i, s in enumerate(chunk):
                    x[i, pad:pad + s.shape[0]] = s
                if covariates is not None:
                    k = covariates[0].shape[1]
                    t = torch.arange(-pad, t_max)
                    frame = torch.div(t, cov_hop, rounding_mode="floor")
                    cov = torch.zeros(len(chunk), pad + t_max, k)
                    for i, rows in enumerate(covariates[b:b + n]):
                        inside = (t >= 0) & (frame < rows.shape[0])
                        cov[i, inside] = rows[frame[inside]]
                    cov = cov.transpose(1, 2).to(device)
                lab = None if labels is None else labels[b:b + n].to(device)
                b += n
                lp = net.log_prob(x.transpose(1, 2).to(device), cov, lab)       # (B, C, L)
                lp = lp.transpose(1, 2)[:, pad:].cpu().double().numpy()
                out += [lp[i, :s.shape[0]] for i, s in enumerate(chunk)]
        finally:
            net.cpu()
        return out

    @on_threads
    @torch.no_grad()
    def _log_prob_windows(self, series, covariates, window):
        """Per-element log-likelihood (the series' units) of scaled float32 ``series``, scored
        in consecutive windows of ``max(receptive_field_, 32)`` targets, each standardised by
        ``window`` from the receptive field before it; ``log(scale)`` of each window is
        subtracted. ``covariates``: one ``(T_i, K)`` tensor per series. -> arrays ``(T_i, C)``."""
        net, pad, device = self.network_, self.receptive_field_, self._device()
        n = max(pad, 32)
        bank = SeriesBank(series, pad, n, covariates=covariates, window=window)
        out = [np.full(tuple(s.shape), np.nan) for s in series]
        per_batch = max(1, min(_SCORE_BATCH, _SCORE_ELEMENTS // (pad + n)))
        net.to(device)
        try:
            for idx, starts, x, cov, labels, _, scale in bank.tiles(
                    [(0, s.shape[0]) for s in series], per_batch, with_scale=True):
                lp = net.log_prob(x.to(device), None if cov is None else cov.to(device), labels)
                lp = (lp[:, :, pad:].cpu() - scale.log()[..., None]).transpose(1, 2)  # (B, n, C)
                lp = lp.double().numpy()
                for row, i, s in zip(lp, idx.tolist(), starts.tolist()):
                    m = min(n, out[i].shape[0] - s)
                    out[i][s:s + m] = row[:m]
        finally:
            net.cpu()
        return out

    @on_threads
    @torch.no_grad()
    def _generate(self, history, n_steps, cond=None, labels=None, seed=0, cond_index=None,
                  paths=None):
        """Sample ``n_steps`` after scaled ``history (B, T0, C)`` (NaN-padded to the receptive
        field) -> ``(B, n_steps, C)`` in scaled units.

        ``cond (B, T0 + n_steps, K)`` per timestep (zero-padded on the left as needed); or, with
        ``cond_index`` (``(T0 + n_steps,)``, -1 for "no frame"), frames ``cond (B, F, K)`` that
        timestep ``tau`` reads from row ``cond_index[tau]`` (zeros for -1).

        ``paths`` (long ``(B,)``): ``history`` holds S distinct histories and path ``i``
        continues ``history[paths[i]]`` (``cond`` and ``labels`` stay per path; the paths of a
        history must agree on its covariates up to T0). Each distinct (history, label) is
        primed once; the draws are those of ``history[paths]``.
        """
        device = self._device()
        net = self.network_.to(device)
        labels_s = labels
        if paths is not None:    # distinct (history, label) pairs: what priming depends on
            key = paths[:, None] if labels is None else torch.stack([paths, labels.long()], 1)
            key, paths = torch.unique(key, dim=0, return_inverse=True)
            history = history[key[:, 0]]
            labels_s = None if labels is None else key[:, 1]
            paths = paths.to(device)
        try:
            pad = self.receptive_field_
            t0, c = history.shape[1:]
            b = history.shape[0] if cond is None else cond.shape[0]
            if t0 < pad:
                history = torch.cat([torch.full((history.shape[0], pad - t0, c), float("nan")),
                                     history], 1)
            elif t0 > pad:
                history = history[:, t0 - pad:]
            if cond_index is not None:
                # frames + one zero frame (the padding's), read through the index
                cond = torch.cat([cond, cond.new_zeros(b, 1, cond.shape[2])], 1)
                cond_index = torch.where(cond_index < 0, cond.shape[1] - 1, cond_index)
                if t0 < pad:
                    cond_index = torch.cat([cond_index.new_full((pad - t0,), cond.shape[1] - 1),
                                            cond_index])
                cond_index = cond_index[cond_index.shape[0] - pad - n_steps:]
                with seeded(seed, device):
                    out = generate(net, history.transpose(1, 2).to(device), n_steps,
                                   cond.transpose(1, 2).to(device),
                                   None if labels_s is None else labels_s.to(device),
                                   cond_index=cond_index, paths=paths)
                return out.transpose(1, 2).cpu()
            if cond is not None:
                k = cond.shape[2]
                need = pad + n_steps
                if cond.shape[1] < need:
                    cond = torch.cat([torch.zeros(b, need - cond.shape[1], k), cond], 1)
                cond = cond[:, cond.shape[1] - need:].transpose(1, 2).to(device)
            with seeded(seed, device):
                out = generate(net, history.transpose(1, 2).to(device), n_steps, cond,
                               None if labels_s is None else labels_s.to(device), paths=paths)
            return out.transpose(1, 2).cpu()
        finally:
            net.cpu()


COMMON_DOC = """
    n_stacks : int, default=1
        Repetitions of the dilation cycle.
    n_layers : int, default=6
        Layers per stack, with dilations 1, 2, ..., 2**(n_layers-1).
    kernel_size : int, default=2
    residual_channels : int, default=32
    skip_channels : int, default=64
    distribution : str or dict, default="gaussian"
        ``"gaussian"``, ``"student_t"``, ``"logistic_mixture"``, ``"categorical"``,
        ``"discretized_logistic_mixture"``; or a dict channel -> name (or ``{"name": ...,
        **head_kwargs}``) for mixed data.
    quantization : {"uniform", "quantile", "mu_law", "levels"}, default="uniform"
        Bin placement of the binned heads (``"levels"``: integer data ``0..n_bins-1``).
    n_bins : int, default=256
    n_mixtures : int, default=5
    channel_dependence : {"joint", "independent"}, default="joint"
        ``"joint"``: channel ``c`` is conditioned on channels ``< c`` of the same timestep.
    n_networks : int, default=1
        Networks trained independently (each from its own seed, on the same data) and combined
        as a deep ensemble: every element's predictive distribution is the equal-weight mixture
        of theirs (:class:`~tsargen.networks.ensemble.WaveNetEnsemble`). Likelihoods stay exact;
        fitting and sampling cost ``n_networks`` times as much. Averaging removes much of the
        run-to-run spread of single fits; ``loss_curve_`` and ``val_loss_curve_`` are those of
        the first network.
    max_epochs, batch_size, lr, validation_fraction, patience
        Training: Adam with the gradient clipped to global norm 1, early stopping on a
        validation split, best weights restored. An epoch is enough random windows of the
        training targets to count each about once, and at least 32 batches; every target is
        equally likely to be counted, the first and last of a series and those of short series
        included (windows overhang the ends, with the targets outside masked). The validation
        split is the last ``validation_fraction`` of each series, or for a
        ``WaveNetDensity`` of 5 or more series that fraction of whole series (drawn from the
        seed). ``loss_curve_`` and ``val_loss_curve_`` are mean NLLs per observed element in
        nats of the standardised data (unlike ``score``, which is in the data's units);
        ``n_iter_`` is the number of epochs run.
    ema_decay : float in [0, 1) or None, default=None
        Polyak averaging of the weights: after every optimiser step the averaged weights move
        to ``ema_decay * averaged + (1 - ema_decay) * current``; validation, early stopping and
        the fitted network use the averaged weights. Averaging smooths the noise of the last
        steps, which matters for small data where early stopping otherwise keeps whichever
        noisy iterate scored best (e.g. 0.99 averages over about the last 100 steps). Fits
        that early-stop within a few epochs can get worse (the average still holds the first
        iterates): validate it. ``None``: the current weights.
    device : {"auto", "cpu", "cuda"}, default="auto"
    random_state : int, RandomState or None
        Controls initialisation, window sampling and sampling; the global RNGs are untouched.
    verbose : bool, default=False
        Show a progress bar with the running loss.
    n_threads : int or None, default=1
        Torch threads for training, scoring and sampling, set for the duration of each call
        and then given back (the caller's setting is never changed for good). One thread is the
        default: on a 2-core machine the default network fitted as fast or faster on one
        thread, and several times faster when other jobs shared the cores
        (``benchmarks/results/default_fit.md``). ``None``: torch's current setting.
"""


