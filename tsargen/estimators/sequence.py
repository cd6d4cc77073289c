"""WaveNet estimators: a panel density and a probabilistic forecaster.

Both wrap :class:`tsargen.networks.WaveNet`. Values are standardised per channel before the
network sees them (globally for the density, per series for the forecaster); log-likelihoods
are reported in the data's original units by adding the log-Jacobian ``-log(scale)``.
"""

import math
import numbers
import os
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import DensityMixin
from sklearn.utils.validation import check_is_fitted

from ..networks.ensemble import WaveNetEnsemble
from ..networks.wavenet import WaveNet, generate
from ..nn.heads import HEADS
from ..timeindex import future_index, warn_irregular
from ..validation import (check_covariate_frames, check_covariates, check_coverage,
                          check_ema_decay, check_fitted_columns, check_horizon, check_panel,
                          check_quantiles, check_series, check_training_params, covariate_names,
                          is_series_list)
from ._base import TsargenEstimator
from ._checkpoint import fit_fingerprint, fit_seed
from ._conditional import ClassConditional
from ._forecaster import interval_quantiles, quantiles_to_intervals
from ._runtime import make_seed, resolve_device, seeded
from ._training import SeriesBank, train, window_nll

_SCORE_BATCH = 256
_SCORE_ELEMENTS = 2 ** 18        # timesteps per scoring batch (bounds activation memory)
POSITION_HARMONICS = 2           # Fourier harmonics of the time_position covariates


def _scale_stats(values, center=True):
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


def _check_observed(series, name):
    """Every channel needs an observed value somewhere, or the network cannot learn it."""
    seen = np.logical_or.reduce([np.isfinite(v).any(axis=0) for v in series])      # (C,)
    if not seen.any():
        raise ValueError(f"{name} has no observed values (no timesteps, or all NaN); pass "
                         "series with data.")
    if not seen.all():
        raise ValueError(f"{name} has no observed value in channel(s) "
                         f"{np.flatnonzero(~seen).tolist()} (all NaN): drop those channels or "
                         "pass data for them.")


def _panel_columns(X):
    """Channel names of a panel given as a list of DataFrames (all the same), else None."""
    if not (isinstance(X, (list, tuple)) and X and all(isinstance(s, pd.DataFrame) for s in X)):
        return None
    names = [list(s.columns) for s in X]
    if any(n != names[0] for n in names):
        raise ValueError("the DataFrames in X have different columns; give every series the "
                         "same channels in the same order.")
    return names[0]


def _column_index(meta):
    """The columns of a DataFrame series as it came in: names (``columns.name``) and
    MultiIndex levels kept."""
    cols, names = meta["columns"], meta.get("column_names")
    if cols and all(isinstance(c, tuple) for c in cols):
        return pd.MultiIndex.from_tuples(cols, names=names)
    return pd.Index(cols, name=names[0] if names else None)


def _as_tensor(values):
    return torch.as_tensor(np.ascontiguousarray(values), dtype=torch.float32)


class _WaveNetParams(TsargenEstimator):
    """Hyperparameters and network plumbing shared by the WaveNet estimators."""

    _min_series_length = 1

    # ------------------------------------------------------------------ parameter checks
    def _receptive_field(self):
        return (self.kernel_size - 1) * (1 + self.n_stacks * (2 ** self.n_layers - 1))

    def _check_params(self):
        for name in ("n_stacks", "n_layers", "residual_channels", "skip_channels", "max_epochs",
                     "batch_size", "n_bins", "n_mixtures", "patience", "n_networks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if isinstance(self.kernel_size, bool) or not isinstance(self.kernel_size,
                                                                numbers.Integral) or (
                self.kernel_size < 2):
            raise ValueError(f"kernel_size must be an integer >= 2, got {self.kernel_size!r}.")
        check_training_params(self.lr, self.validation_fraction)
        check_ema_decay(self.ema_decay)
        if self.channel_dependence not in ("joint", "independent"):
            raise ValueError("channel_dependence must be 'joint' or 'independent', got "
                             f"{self.channel_dependence!r}.")
        resolve_device(self.device)

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
            elif isinstance(key, numbers.Integral) and 0 <= key < n_channels:
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

    def _fit_network(self, net, bank, device, checkpoint=None, desc=None, seed=None):
        """Fit heads on the training values, then run the training loop (resumable from
        ``checkpoint``, see :func:`~tsargen.estimators._training.train`)."""
        values = torch.cat([bank.data[bank.offsets[i] + a: bank.offsets[i] + b]
                            for i, (a, b) in enumerate(bank.train_ranges)])
        net.heads.fit(values)
        has_val = bank.n_val_targets > 0
        result = train(
            net,
            lambda: bank.train_batches(self.batch_size),
            (lambda: bank.val_batches(self.batch_size)) if has_val else None,
            lambda n, b: window_nll(n, b, bank.pad),
            max_epochs=self.max_epochs, lr=self.lr, patience=self.patience,
            ema_decay=self.ema_decay,
            verbose=self.verbose, device=device, desc=desc or type(self).__name__ + (
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
        nets, name = [net], type(self).__name__
        for i in range(1, self.n_networks):
            with seeded(int(np.random.SeedSequence([seed, i]).generate_state(1)[0]), device):
                other = build()
                self._fit_network(other, bank, device,
                                  None if checkpoint is None else f"{os.fspath(checkpoint)}.{i}",
                                  desc=f"{name} [network {i + 1}/{self.n_networks}]")
            nets.append(other.cpu())
        return WaveNetEnsemble(nets)

    def _n_targets(self, lengths):
        return max(1, min(max(self._receptive_field(), 32), max(lengths)))

    # ------------------------------------------------------------------ scoring helpers
    def _device(self):
        return resolve_device(self.device)

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

    @torch.no_grad()
    def _generate(self, history, n_steps, cond=None, labels=None, seed=0, cond_index=None):
        """Sample ``n_steps`` after scaled ``history (B, T0, C)`` (NaN-padded to the receptive
        field) -> ``(B, n_steps, C)`` in scaled units.

        ``cond (B, T0 + n_steps, K)`` per timestep (zero-padded on the left as needed); or, with
        ``cond_index`` (``(T0 + n_steps,)``, -1 for "no frame"), frames ``cond (B, F, K)`` that
        timestep ``tau`` reads from row ``cond_index[tau]`` (zeros for -1).
        """
        device = self._device()
        net = self.network_.to(device)
        try:
            pad = self.receptive_field_
            b, t0, c = history.shape
            if t0 < pad:
                history = torch.cat([torch.full((b, pad - t0, c), float("nan")), history], 1)
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
                                   None if labels is None else labels.to(device),
                                   cond_index=cond_index)
                return out.transpose(1, 2).cpu()
            if cond is not None:
                k = cond.shape[2]
                need = pad + n_steps
                if cond.shape[1] < need:
                    cond = torch.cat([torch.zeros(b, need - cond.shape[1], k), cond], 1)
                cond = cond[:, cond.shape[1] - need:].transpose(1, 2).to(device)
            with seeded(seed, device):
                out = generate(net, history.transpose(1, 2).to(device), n_steps, cond,
                               None if labels is None else labels.to(device))
            return out.transpose(1, 2).cpu()
        finally:
            net.cpu()


_COMMON_DOC = """
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
"""


class WaveNetDensity(ClassConditional, DensityMixin, _WaveNetParams):
    __doc__ = """Autoregressive density of a panel of series, ``p(x) = prod_t p(x_t | x_<t)``.

    Parameters
    ----------""" + _COMMON_DOC + """    time_position : bool, default=False
        Condition every step on its absolute position ``u = t / n`` (``n``: the longest
        training series) as local covariates: ``u`` and the low Fourier features
        ``sin(2 pi k u)``, ``cos(2 pi k u)`` for ``k = 1, 2`` (smooth bases the network builds a
        position-dependent profile from; ``u`` alone must be bent by the gates). Makes the
        density non-stationary: use it when *where* in the series a pattern happens matters
        (shape-type classes). Not combinable with ``covariates=``.
    cond_hop : int, default=1
        Timesteps per row of the local covariates passed as ``covariates=`` (the hop length of
        frame-rate features such as log-mel frames; 1 = one row per timestep). Row ``j`` of a
        series' covariates conditions its timesteps ``j * cond_hop .. (j + 1) * cond_hop - 1``.

    Attributes
    ----------
    network_ : WaveNet, or WaveNetEnsemble when ``n_networks > 1``
    receptive_field_ : int
    n_channels_ : int
    channel_names_ : list or None
        Column names when fitted on a list of DataFrames (``distribution`` may then be keyed
        by them, and later panels must have the same columns), else None.
    scaler_ : dict with ``loc`` and ``scale`` arrays, shape (n_channels,)
    classes_ : ndarray or None
        Labels of a class-conditional model (``fit(X, y)``).
    n_covariates_ : int
        Number of local covariates (0 without ``covariates=``).
    cov_scaler_ : dict with ``loc`` and ``scale`` arrays, shape (n_covariates,), or None
    loss_curve_, val_loss_curve_ : list of float

    Notes
    -----
    **Local conditioning (vocoder).**
    ``fit``, ``score_samples``, ``score_steps``, ``score``, ``sample`` and ``complete`` take
    ``covariates=``: one ``(n_frames, n_features)`` array per series, known in advance for the
    whole series (for audio: its log-mel frames, ``tsargen.audio.log_mel(x, sr,
    hop_length=cond_hop, center=True)``). A model fitted with covariates needs them in every
    later call. They are standardised per feature on the training frames, kept at frame rate
    and repeated to the sample rate per batch (see ``tsargen.networks.wavenet``). A series of
    ``T`` timesteps needs between ``ceil(T / cond_hop)`` and ``ceil(T / cond_hop) + 2`` frames
    (``sample`` with ``length=``: at least ``ceil(length / cond_hop)``).

    For 8-bit audio, fit on mu-law levels (``MuLaw(scale=1.0)`` or ``tsargen.audio.
    mu_law_encode``) with ``distribution="categorical", quantization="levels", n_bins=256``;
    samples come back as levels, and ``tsargen.audio.mu_law_decode(levels.astype(int))`` (or
    ``MuLaw.inverse_transform``) gives the waveform in [-1, 1] for ``tsargen.audio.write_wav``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen import WaveNetDensity
    >>> rng = np.random.default_rng(0)
    >>> X = np.cumsum(rng.normal(size=(20, 50)), axis=1)
    >>> d = WaveNetDensity(n_layers=3, residual_channels=8, skip_channels=8, max_epochs=2,
    ...                    random_state=0).fit(X)
    >>> d.score_samples(X).shape, d.score_steps(X).shape
    ((20,), (20, 50))
    >>> d.sample(3, length=50, random_state=0).shape
    (3, 50)

    Mu-law audio with log-mel local conditioning (a vocoder):

    >>> from tsargen.audio import log_mel, mu_law_decode, mu_law_encode
    >>> clips = [0.5 * np.sin(0.3 * np.arange(n)) for n in (640, 800)]
    >>> mels = [log_mel(c, 8000, n_fft=64, hop_length=32, n_mels=8, center=True) for c in clips]
    >>> voc = WaveNetDensity(n_layers=3, residual_channels=8, skip_channels=8, max_epochs=1,
    ...                      distribution="categorical", quantization="levels", n_bins=256,
    ...                      cond_hop=32, batch_size=8, random_state=0)
    >>> voc = voc.fit([mu_law_encode(c) for c in clips], covariates=mels)
    >>> levels = voc.sample(1, length=640, covariates=[mels[0]], random_state=0)
    >>> wave = mu_law_decode(levels.astype(int))            # floats in [-1, 1]
    >>> wave.shape
    (1, 640)
    """

    def __init__(self, *, n_stacks=1, n_layers=6, kernel_size=2, residual_channels=32,
                 skip_channels=64, distribution="gaussian", quantization="uniform", n_bins=256,
                 n_mixtures=5, channel_dependence="joint", n_networks=1, time_position=False,
                 cond_hop=1, max_epochs=100, batch_size=32, lr=1e-3, validation_fraction=0.1,
                 patience=10, ema_decay=None, device="auto", random_state=None, verbose=False):
        self.n_stacks = n_stacks
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.residual_channels = residual_channels
        self.skip_channels = skip_channels
        self.distribution = distribution
        self.quantization = quantization
        self.n_bins = n_bins
        self.n_mixtures = n_mixtures
        self.channel_dependence = channel_dependence
        self.n_networks = n_networks
        self.time_position = time_position
        self.cond_hop = cond_hop
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.ema_decay = ema_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _label_unit = "series"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        return tags

    # ------------------------------------------------------------------ validation
    def _check_X(self, X, fitted=True):
        series, kind = check_panel(X)
        if fitted:
            if series[0].shape[1] != self.n_channels_:
                raise ValueError(f"X has {series[0].shape[1]} channels but the model was fitted "
                                 f"on {self.n_channels_}.")
            fitted_names, names = getattr(self, "channel_names_", None), _panel_columns(X)
            if fitted_names is not None and names is not None and names != fitted_names:
                raise ValueError(f"X has the columns {names} but the model was fitted on "
                                 f"{fitted_names}: select and order them the same way.")
            self._check_levels(series, "X")
        return series, kind

    def _check_params(self):
        super()._check_params()
        hop = self.cond_hop
        if isinstance(hop, bool) or not isinstance(hop, numbers.Integral) or hop < 1:
            raise ValueError(f"cond_hop must be a positive integer, got {hop!r}.")

    def _check_covariates(self, covariates, lengths, where, exact=True):
        """Local covariates: one finite ``(n_frames, K)`` array per series whose frames cover
        it -> list of float64 arrays, or None."""
        fitted = where != "fit"
        n_cov = getattr(self, "n_covariates_", 0) if fitted else None
        if covariates is None:
            if fitted and n_cov:
                raise ValueError(f"the model was fitted with local covariates: pass covariates= "
                                 f"to {where}() (one (n_frames, {n_cov}) array per series).")
            return None
        if fitted and not n_cov:
            raise ValueError("the model was fitted without local covariates; do not pass "
                             "covariates=.")
        if self.time_position:
            raise ValueError("time_position=True cannot be combined with covariates=; add the "
                             "position to the covariates yourself.")
        if isinstance(covariates, np.ndarray) and covariates.ndim == 3:
            items = list(covariates)
        elif isinstance(covariates, (list, tuple)):
            items = list(covariates)
        else:
            raise TypeError("covariates must be a list of (n_frames, n_features) arrays, one "
                            f"per series; got {type(covariates).__name__}.")
        if len(items) != len(lengths):
            raise ValueError(f"covariates has {len(items)} arrays but there are {len(lengths)} "
                             "series: pass one per series.")
        hop, out = self.cond_hop, []
        for i, (item, t) in enumerate(zip(items, lengths)):
            if np.ndim(item) != 2:
                raise ValueError(f"covariates[{i}] must be 2-D (n_frames, n_features), got "
                                 f"shape {np.shape(item)}.")
            v, _ = check_series(item, f"covariates[{i}]", allow_nan=False)
            need = -(-t // hop)
            if v.shape[0] < need:
                raise ValueError(
                    f"covariates[{i}] has {v.shape[0]} frames, which do not cover the series' "
                    f"{t} timesteps: cond_hop={hop} needs at least {need} (frame j conditions "
                    f"timesteps j*{hop}..(j+1)*{hop}-1). Compute log-mels with center=True, or "
                    "pad the signal before computing its features.")
            if exact and v.shape[0] > need + 2:
                raise ValueError(
                    f"covariates[{i}] has {v.shape[0]} frames for {t} timesteps; with cond_hop="
                    f"{hop} about {need} are expected: check cond_hop (the features' hop "
                    "length) and that the features belong to this series.")
            if n_cov and v.shape[1] != n_cov:
                raise ValueError(f"covariates[{i}] has {v.shape[1]} features but the model was "
                                 f"fitted with {n_cov}.")
            out.append(v)
        if len({v.shape[1] for v in out}) > 1:
            raise ValueError("the arrays in covariates have different numbers of features.")
        return out

    def _scale_covariates(self, covs):
        if covs is None:
            return None
        loc, scale = self.cov_scaler_["loc"], self.cov_scaler_["scale"]
        return [_as_tensor((v - loc) / scale) for v in covs]

    def _scale(self, series):
        loc, scale = self.scaler_["loc"], self.scaler_["scale"]
        return [_as_tensor((s - loc) / scale) for s in series]

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, covariates=None, checkpoint=None):
        """Fit the density on a panel ``X``; labels ``y`` make it class-conditional (global
        conditioning); ``covariates`` (one ``(n_frames, K)`` array per series) make it locally
        conditioned.

        ``checkpoint``: a file the training state is saved to after every epoch and resumed
        from when it exists (an interrupted fit then ends exactly as an uninterrupted one)."""
        self._check_params()
        series, kind = self._check_X(X, fitted=False)
        labels = self._check_labels(y, len(series), fitting=True)
        _check_observed(series, "X")
        covs = self._check_covariates(covariates, [s.shape[0] for s in series], "fit")
        cov_scaler = None
        if covs is not None:
            cov_loc, cov_scale = _scale_stats(np.concatenate(covs))
            cov_scaler = {"loc": cov_loc, "scale": cov_scale}
        c = series[0].shape[1]
        columns = _panel_columns(X)
        specs = self._head_specs(c, columns)
        self._check_levels(series, "X", specs)
        loc, scale = _scale_stats(np.concatenate(series))
        fixed = self._unscaled_channels(specs, c)
        loc[fixed], scale[fixed] = 0.0, 1.0
        classes, prior, labels = self._encode_classes(labels)
        scaled = [_as_tensor((s - loc) / scale) for s in series]
        lengths = [s.shape[0] for s in series]
        seed = fit_seed(self.random_state, checkpoint)
        device = self._device()
        rf = self._receptive_field()
        n = len(series)
        position_ref = max(lengths) if self.time_position else None
        hop = 1
        if covs is None:
            cond = self._positions(lengths, position_ref)
        else:
            cond, hop = [_as_tensor((v - cov_scaler["loc"]) / cov_scaler["scale"])
                         for v in covs], self.cond_hop

        def build():
            return self._build_network(specs, c, cond_channels=0 if cond is None
                                       else cond[0].shape[1],
                                       n_classes=0 if classes is None else len(classes))

        with seeded(seed, device):
            train_ranges, val_ranges = self._split(lengths, n)
            net = build()
            bank = SeriesBank(scaled, rf, self._n_targets(lengths), covariates=cond,
                              labels=labels, train_ranges=train_ranges, val_ranges=val_ranges,
                              cov_hop=hop)
            result = self._fit_network(net, bank, device, checkpoint, seed=seed)
        self.network_ = self._ensemble(net.cpu(), build, bank, device, seed, checkpoint).eval()
        self.receptive_field_ = rf
        self.n_channels_ = c
        self.channel_names_ = columns
        self.scaler_ = {"loc": loc, "scale": scale}
        self.position_ref_ = position_ref
        self.n_covariates_ = 0 if covs is None else covs[0].shape[1]
        self.cov_scaler_ = cov_scaler
        self.classes_ = classes
        self.class_prior_ = prior
        self.input_kind_ = kind
        self.train_length_ = lengths[0] if len(set(lengths)) == 1 else None
        if kind != "list":
            self.n_features_in_ = lengths[0]
        self.loss_curve_ = result["loss_curve"]
        self.val_loss_curve_ = result["val_loss_curve"]
        self.n_iter_ = result["n_epochs"]
        return self

    @staticmethod
    def _positions(lengths, ref):
        """Position covariates per series, ``(T_i, 1 + 2 * POSITION_HARMONICS)``: ``u = (t + 1)
        / ref`` and ``sin, cos(2 pi k u)``; None without ``time_position``."""
        if ref is None:
            return None
        k = torch.arange(1, POSITION_HARMONICS + 1, dtype=torch.float64)
        u = torch.arange(1, max(lengths) + 1, dtype=torch.float64)[:, None] / ref  # (T, 1)
        angle = 2.0 * math.pi * k * u                                            # (T, K)
        full = torch.cat([u, angle.sin(), angle.cos()], dim=1).float()
        return [full[:t] for t in lengths]           # a series' positions are a prefix

    def _split(self, lengths, n):
        """Validation by whole series when there are >= 5, else by the last part of each."""
        vf = self.validation_fraction
        if vf == 0:
            return [(0, t) for t in lengths], [(t, t) for t in lengths]
        if n >= 5:
            n_val = min(max(1, int(round(vf * n))), n - 1)    # keep a series to train on
            val = set(torch.randperm(n)[:n_val].tolist())
            return ([(0, 0) if i in val else (0, t) for i, t in enumerate(lengths)],
                    [(0, t) if i in val else (t, t) for i, t in enumerate(lengths)])
        cut = [max(t - max(1, int(math.ceil(vf * t))), 1) if t >= 2 else t for t in lengths]
        return [(0, k) for k in cut], [(k, t) for k, t in zip(cut, lengths)]

    # ------------------------------------------------------------------ scoring
    def _format_steps(self, values, kind):
        if kind == "list":
            return [v[:, 0] if self.n_channels_ == 1 else v for v in values]
        arr = np.stack(values)
        return arr[:, :, 0] if kind == "2d" else arr

    def _steps(self, series, labels, covs=None):
        """Per-element log-likelihood in original units, NaN where the value is missing;
        ``covs``: scaled local covariates or None."""
        if covs is None:
            lp = self._log_prob_scaled(self._scale(series), self._positions(
                [len(s) for s in series], self.position_ref_), labels=labels)
        else:
            lp = self._log_prob_scaled(self._scale(series), covs, labels=labels,
                                       cov_hop=self.cond_hop)
        log_jac = np.log(self.scaler_["scale"])
        return [np.where(np.isnan(s), np.nan, v - log_jac) for s, v in zip(series, lp)]

    def _marginal_steps(self, series, covs=None):
        """Steps of the marginal ``sum_k p(k) p(x | k)``: the log-ratio of consecutive prefix
        marginals, in raster order (time, then channel), so they stay autoregressive."""
        per_class = [self._steps(series, codes, covs) for codes in self._every_class(len(series))]
        out = []
        for i, s in enumerate(series):
            flat = np.stack([np.nan_to_num(pc[i]).reshape(1, -1)
                             for pc in per_class])                            # (K, 1, T*C)
            steps = self._marginal_of(flat)[0].reshape(s.shape)
            out.append(np.where(np.isnan(s), np.nan, steps))
        return out

    def score_steps(self, X, y=None, covariates=None):
        """Log-likelihood (nats, original units) of every element, shaped like ``X``.

        Entry ``t`` (channel ``c``) depends only on earlier timesteps (and on channels ``< c``
        of timestep ``t`` with joint channel dependence). Missing values (NaN) give NaN. A
        class-conditional model scored without ``y`` gives the marginal over the classes,
        weighted by their training frequencies. A locally conditioned model needs the series'
        ``covariates``; they are known for the whole series, so entry ``t`` may depend on them
        at any time.
        """
        check_is_fitted(self)
        series, kind = self._check_X(X)
        labels = self._check_labels(y, len(series))
        covs = self._scale_covariates(self._check_covariates(
            covariates, [s.shape[0] for s in series], "score_steps"))
        if labels is None and self.classes_ is not None:
            return self._format_steps(self._marginal_steps(series, covs), kind)
        return self._format_steps(self._steps(series, labels, covs), kind)

    def score_samples(self, X, y=None, covariates=None):
        """Total log-likelihood of each series in nats, ``(n_series,)``; missing values skipped."""
        steps = self.score_steps(X, y, covariates)
        return np.array([np.nansum(s) for s in steps])

    def score(self, X, y=None, covariates=None):
        """Mean total log-likelihood per series (higher is better)."""
        return float(np.mean(self.score_samples(X, y, covariates)))

    # ------------------------------------------------------------------ generation
    def _posterior_labels(self, series, n_known, n_samples, covs, seed):
        """One class per completion, ``(n_samples * n,)`` (sample-major), drawn from
        ``p(k | first n_known steps)``: the marginal model's own view of the known part."""
        scaled = None if covs is None else self._scale_covariates(covs)
        log_lik = np.stack([[np.nansum(st[:n_known]) for st in self._steps(series, codes, scaled)]
                            for codes in self._every_class(len(series))], axis=1)      # (n, K)
        return self._posterior_classes(log_lik, n_samples, seed)

    def _unscale(self, x):
        return x.double().numpy() * self.scaler_["scale"] + self.scaler_["loc"]

    def _frames(self, covs, n_steps):
        """Scaled frames ``(B, F_max, K)`` (zero-padded) and the frame index of each of
        ``n_steps`` timesteps, for :meth:`_generate`."""
        rows = self._scale_covariates(covs)
        frames = torch.zeros(len(rows), max(r.shape[0] for r in rows), rows[0].shape[1])
        for i, r in enumerate(rows):
            frames[i, :r.shape[0]] = r
        return frames, torch.div(torch.arange(n_steps), self.cond_hop, rounding_mode="floor")

    def sample(self, n_samples=1, *, y=None, length=None, covariates=None, random_state=None):
        """Draw ``n_samples`` new series of ``length`` timesteps (cached generation).

        ``covariates`` (locally conditioned models): one ``(n_frames, K)`` array per sample, or
        one array for all; ``length`` then defaults to ``n_frames * cond_hop``. For mu-law
        audio the samples are levels: see the class docstring for the waveform.
        """
        check_is_fitted(self)
        n_samples = check_horizon(n_samples, "n_samples") if n_samples != 0 else 0
        if covariates is not None and not isinstance(covariates, (list, tuple)) and (
                np.ndim(covariates) == 2):
            covariates = [covariates] * n_samples
        if length is None and covariates is not None and isinstance(
                covariates, (list, tuple, np.ndarray)) and len(covariates) and len(
                {np.shape(v)[0] for v in covariates}) == 1:
            length = np.shape(covariates[0])[0] * self.cond_hop
        if length is None:
            if self.train_length_ is None:
                raise ValueError("pass length= (the model was fitted on series of unequal "
                                 "length, so there is no default).")
            length = self.train_length_
        length = check_horizon(length, "length")
        seed = make_seed(random_state)
        covs = self._check_covariates(covariates, [length] * n_samples, "sample", exact=False)
        labels = self._sample_labels(y, n_samples, seed)
        history = torch.zeros(n_samples, 0, self.n_channels_)
        if covs is not None:
            frames, index = self._frames(covs, length)
            x = self._generate(history, length, cond=frames, labels=labels, seed=seed,
                               cond_index=index)
        else:
            cond = self._positions([length], self.position_ref_)
            cond = None if cond is None else cond[0].expand(n_samples, -1, -1)
            x = self._generate(history, length, cond=cond, labels=labels, seed=seed)
        x = self._unscale(x)
        return x[:, :, 0] if self.n_channels_ == 1 and self.input_kind_ != "3d" else x

    def complete(self, X, *, n_known, n_samples=1, y=None, covariates=None, random_state=None):
        """Keep the first ``n_known`` timesteps of each series in ``X`` and sample the rest.

        Returns ``(n_samples, *X.shape)``; the known part is copied bit for bit. A locally
        conditioned model needs each series' ``covariates`` (covering the whole series). A
        class-conditional model completes with the given labels ``y``, or without them from
        the marginal over the classes: each completion draws its class from ``p(class | known
        part)``.
        """
        check_is_fitted(self)
        series, kind = self._check_X(X)
        if kind == "list" and len({s.shape[0] for s in series}) > 1:
            raise ValueError("complete() needs series of equal length; pass an array panel.")
        t = series[0].shape[0]
        if isinstance(n_known, bool) or not isinstance(n_known, numbers.Integral) or not (
                0 <= n_known <= t):
            raise ValueError(f"n_known must be an integer in [0, {t}], got {n_known!r}.")
        n_samples = check_horizon(n_samples, "n_samples")
        covs = self._check_covariates(covariates, [t] * len(series), "complete")
        seed = make_seed(random_state)
        if y is None and self.classes_ is not None:   # the marginal: classes given the known part
            labels = self._posterior_labels(series, n_known, n_samples, covs, seed)
        else:
            labels = self._check_labels(y, len(series))
            labels = None if labels is None else labels.repeat(n_samples)
        known = torch.stack(self._scale(series))[:, :n_known].repeat(n_samples, 1, 1)
        arr = np.stack(series)                                   # (n, T, C)
        out = np.repeat(arr[None], n_samples, axis=0)            # (n_samples, n, T, C)
        if n_known < t and covs is not None:
            frames, index = self._frames(covs, t)
            new = self._unscale(self._generate(known, t - n_known,
                                               cond=frames.repeat(n_samples, 1, 1),
                                               labels=labels, seed=seed, cond_index=index))
            out[:, :, n_known:] = new.reshape(n_samples, len(series), t - n_known, -1)
        elif n_known < t:
            cond = self._positions([t], self.position_ref_)
            cond = None if cond is None else cond[0].expand(known.shape[0], -1, -1)
            new = self._unscale(self._generate(known, t - n_known, cond=cond, labels=labels,
                                               seed=seed))
            out[:, :, n_known:] = new.reshape(n_samples, len(series), t - n_known, -1)
        return out[..., 0] if kind == "2d" or (kind == "list" and self.n_channels_ == 1) else out


class WaveNetForecaster(_WaveNetParams):
    __doc__ = """Probabilistic multi-step forecaster: a WaveNet sampled forward in time.

    One global model for one series or a list of series, each standardised by its own mean and
    standard deviation at fit time (kept in ``scaler_``). Histories passed as ``y=`` reuse
    that scaling when the model has one series (any history is that series) or when a global
    model gets as many as at fit (the same series, continued); any other number are new
    series, each forecast with its own history's mean and scale. Forecasts come from
    ``n_paths`` sample paths drawn with cached generation; ``predict`` is their median, drawn
    with a fixed seed, so it is deterministic for a fitted model.

    Rows are modelled as consecutive steps; a time index only dates the forecasts. A
    DatetimeIndex, PeriodIndex or TimedeltaIndex with missing steps (an hourly index with rows
    dropped, market hours, trading days with holidays) or with no regular frequency gives one
    :class:`~tsargen.IrregularIndexWarning` per ``fit`` saying how many steps are missing (and
    at ``update`` and ``y=`` histories). Reindex (``y.asfreq("h")``) to mark the gaps as
    missing values, or, where rows are meant as events (market hours), silence it with
    ``warnings.filterwarnings("ignore", category=tsargen.IrregularIndexWarning)``. Numeric
    indexes (positions, event times) never warn: their irregularity is by design.

    Parameters
    ----------
    horizon : int, default=1
        Default forecast horizon.
    context : int or None, default=None
        Most recent timesteps the forecasts condition on; ``None`` means the receptive field.
    n_paths : int, default=200
        Sample paths behind ``predict``, ``predict_quantiles`` and ``predict_interval``.
    differences : int, default=0
        Model the ``d``-th differences of the series (as ARIMA's ``d``) and integrate the
        sample paths back to levels: use 1 for trending or random-walk-like series. The
        log-likelihood is still that of the levels (the map is volume-preserving given the
        past); the first ``d`` steps of ``score_steps`` are NaN. Differenced series (here and
        with ``seasonal_lag``) are scaled by their root-mean-square but not centred, so the
        network's zero output means no drift, not the training period's mean change.
    seasonal_lag : int or None, default=None
        Model the seasonal differences ``y[t] - y[t - s]`` with ``s = seasonal_lag`` (as
        SARIMA's ``D=1``; applied before the regular ``differences``) and integrate the sample
        paths back to levels, each step adding the value one season earlier (observed or
        forecast). Use the period of a strong, stable cycle (e.g. 48 for half-hourly data with a
        daily cycle). The log-likelihood is still that of the levels (the map is
        volume-preserving given the past); the first ``s + d`` steps of ``score_steps`` are NaN,
        and forecasting needs a history of at least ``s + d`` timesteps.""" + (
        _COMMON_DOC) + """
    Attributes
    ----------
    network_ : WaveNet, or WaveNetEnsemble when ``n_networks > 1``
    receptive_field_ : int
    n_channels_ : int
    scaler_ : dict with ``loc`` and ``scale`` arrays, shape (n_series, n_channels)
    covariate_names_ : list or None
        Column names of ``X`` when it was fitted as DataFrames: later ``X`` must match them.
        (A time index of ``X`` must also line up with ``y``'s.)
    loss_curve_, val_loss_curve_ : list of float

    Examples
    --------
    >>> import numpy as np
    >>> from tsargen import WaveNetForecaster
    >>> y = np.sin(np.arange(300) / 5) + 0.1 * np.random.default_rng(0).normal(size=300)
    >>> f = WaveNetForecaster(n_layers=4, residual_channels=8, skip_channels=8, max_epochs=3,
    ...                       random_state=0).fit(y)
    >>> f.predict(horizon=12).shape, f.predict_quantiles(12, quantiles=(0.1, 0.9)).shape
    ((12,), (12, 2))
    """

    # read only when forecasting: changing them does not refuse a checkpoint's resume
    _predict_only_params = ("horizon", "context", "n_paths")

    def __init__(self, *, horizon=1, context=None, n_paths=200, differences=0,
                 seasonal_lag=None, n_stacks=1, n_layers=6,
                 kernel_size=2, residual_channels=32, skip_channels=64, distribution="gaussian",
                 quantization="uniform", n_bins=256, n_mixtures=5, channel_dependence="joint",
                 n_networks=1, max_epochs=100, batch_size=32, lr=1e-3, validation_fraction=0.1,
                 patience=10, ema_decay=None, device="auto", random_state=None, verbose=False):
        self.horizon = horizon
        self.context = context
        self.n_paths = n_paths
        self.differences = differences
        self.seasonal_lag = seasonal_lag
        self.n_stacks = n_stacks
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.residual_channels = residual_channels
        self.skip_channels = skip_channels
        self.distribution = distribution
        self.quantization = quantization
        self.n_bins = n_bins
        self.n_mixtures = n_mixtures
        self.channel_dependence = channel_dependence
        self.n_networks = n_networks
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.ema_decay = ema_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        super()._check_params()
        check_horizon(self.horizon)
        if isinstance(self.differences, bool) or not isinstance(self.differences,
                                                                 numbers.Integral) or (
                self.differences < 0):
            raise ValueError(f"differences must be an integer >= 0, got {self.differences!r}.")
        lag = self.seasonal_lag
        if lag is not None and (isinstance(lag, bool) or not isinstance(lag, numbers.Integral)
                                or lag < 1):
            raise ValueError(f"seasonal_lag must be None or an integer >= 1 (the season's length "
                             f"in timesteps), got {lag!r}.")
        for name in ("n_paths",) + (("context",) if self.context is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")

    def _check_targets(self, y, name="y", warn=True):
        """-> (list of values (T, C), list of meta dicts, was_list); ``warn``: one
        :class:`IrregularIndexWarning` for time indexes with gaps (``update`` judges its own)."""
        if y is None:
            raise TypeError(f"{name} is required.")
        many = is_series_list(y) and not isinstance(y, np.ndarray)
        items = list(y) if many else [y]
        values, metas = [], []
        for i, item in enumerate(items):
            v, info = check_series(item, f"{name}[{i}]" if many else name)
            values.append(v)
            metas.append({"kind": info.kind, "index": info.index, "columns": info.columns,
                          "name": info.name, "column_names": list(item.columns.names)
                          if isinstance(item, pd.DataFrame) else None})
        if len({v.shape[1] for v in values}) > 1:
            raise ValueError(f"the series in {name} have different numbers of channels.")
        if warn:
            warn_irregular(metas, name, many)
        return values, metas, many

    def _check_new_targets(self, y, warn=True):
        """:meth:`_check_targets` for a fitted model: its channel count, columns and levels."""
        values, metas, many = self._check_targets(y, warn=warn)
        if values[0].shape[1] != self.n_channels_:
            raise ValueError(f"y has {values[0].shape[1]} channels but the model was fitted on "
                             f"{self.n_channels_}.")
        check_fitted_columns(metas, self.meta_)
        self._check_levels(values, "y")
        return values, metas, many

    def _check_covariates(self, X, lengths, many, where, extra=0, metas=None):
        """Covariates per series: ``lengths[i] + extra`` rows each, no NaN/inf. DataFrames must
        keep the fitted column names, and a time index must line up with ``y``'s (``metas``;
        ``lengths`` of 0: the stored histories, which ``X`` must follow)."""
        n_cov = (getattr(self, "n_covariates_", None) or 0) if where != "fit" else None
        covs = check_covariates(X, lengths, many, where, n_cov, extra)
        if covs is not None:
            check_covariate_frames(X, many, lengths, metas, getattr(self, "meta_", None),
                                   getattr(self, "covariate_names_", None) if where != "fit"
                                   else None)
        return covs

    def _n_lost(self):
        """Leading timesteps the differencing leaves undefined: ``s + d``."""
        return (self.seasonal_lag or 0) + self.differences

    def _seasonal_difference(self, v):
        """``v[t] - v[t - s]``, same length, first ``s`` rows NaN (identity without a lag)."""
        lag = self.seasonal_lag
        if not lag:
            return v
        head = np.full((min(lag, v.shape[0]), v.shape[1]), np.nan)
        return np.vstack([head, v[lag:] - v[:-lag]])

    def _difference(self, v):
        """The modelled series: ``d``-th differences of the seasonal differences, same length,
        first ``s + d`` rows NaN."""
        v = self._seasonal_difference(v)
        for _ in range(self.differences):
            v = np.vstack([np.full((1, v.shape[1]), np.nan), np.diff(v, axis=0)])
        return v

    def _integrate(self, draws, history):
        """Sample paths of the modelled series ``(n, fh, C)`` -> levels, anchored on the last
        observed values of ``history (T, C)`` at every differencing order: the regular
        differences are summed up first, then each seasonal difference is added to the level
        one season earlier (observed for the first season ahead, else a step of the path)."""
        if not self.differences and not self.seasonal_lag:
            return draws
        filled = pd.DataFrame(history).ffill().to_numpy()
        anchors = [self._seasonal_difference(filled)]
        for _ in range(self.differences - 1):
            anchors.append(np.diff(anchors[-1], axis=0))
        for level in reversed(anchors[:self.differences]):
            draws = level[-1] + np.cumsum(draws, axis=1)
        lag = self.seasonal_lag
        if lag:
            n, fh, c = draws.shape
            blocks = -(-fh // lag)                      # seasons ahead, the last one partial
            padded = np.concatenate([draws, np.zeros((n, blocks * lag - fh, c))], axis=1)
            summed = np.cumsum(padded.reshape(n, blocks, lag, c), axis=1)
            draws = (summed.reshape(n, blocks * lag, c) + np.tile(filled[-lag:], (blocks, 1)))
            draws = draws[:, :fh]
        return draws

    @staticmethod
    def _series_scaling(values, unscaled, center=True):
        """Per-series (loc, scale), each ``(n_series, C)``; integer-level channels stay as is,
        and ``center=False`` keeps loc at 0 and scales by the root-mean-square."""
        stats = [_scale_stats(v, center) for v in values]
        loc = np.stack([s[0] for s in stats])
        scale = np.stack([s[1] for s in stats])
        loc[:, unscaled], scale[:, unscaled] = 0.0, 1.0
        return loc, scale

    def _history_scaling(self, modelled, own=True):
        """``(loc, scale)`` for the modelled (differenced) series. A model of one series takes
        any series as that one (e.g. windows at several origins): its fitted scaling. A global
        model's as many series as at fit are the fitted ones (their fitted scaling); any other
        count are new series: for forecasting (``own``) each gets its own mean and scale from
        its history, as every series did at fit (the forecast is then a distribution given the
        history, which may depend on all of it); for scoring, the pooled fitted scaling (mean
        loc, root-mean-square scale), so that the likelihood is a fixed density and each step
        depends only on earlier ones."""
        loc, scale = self.scaler_["loc"], self.scaler_["scale"]
        if len(modelled) == loc.shape[0]:
            return loc, scale
        if loc.shape[0] == 1:
            n = len(modelled)
            return np.repeat(loc, n, axis=0), np.repeat(scale, n, axis=0)
        if own:
            return self._series_scaling(modelled, self.unscaled_channels_, center=not (
                self.differences or self.seasonal_lag))
        n = len(modelled)
        return (np.repeat(loc.mean(axis=0, keepdims=True), n, axis=0),
                np.repeat(np.sqrt((scale ** 2).mean(axis=0, keepdims=True)), n, axis=0))

    # ------------------------------------------------------------------ fit
    def fit(self, y, X=None, *, checkpoint=None):
        """Fit one global model on a series ``y`` or a list of series, with optional
        covariates ``X`` (one row per timestep of ``y``, known in advance for forecasting).

        ``checkpoint``: a file the training state is saved to after every epoch and resumed
        from when it exists (an interrupted fit then ends exactly as an uninterrupted one)."""
        self._check_params()
        values, metas, many = self._check_targets(y)
        lengths = [v.shape[0] for v in values]
        covs = self._check_covariates(X, lengths, many, "fit", metas=metas)
        rf = self._receptive_field()
        if max(lengths) <= rf:
            raise ValueError(f"y has {max(lengths)} timesteps but the receptive field is {rf}: "
                             "pass a longer series or reduce n_layers / n_stacks.")
        _check_observed(values, "y")
        if self.seasonal_lag and max(lengths) <= self._n_lost():
            raise ValueError(f"y has {max(lengths)} timesteps but seasonal_lag="
                             f"{self.seasonal_lag} and differences={self.differences} leave "
                             "none to model: pass a longer series or a shorter seasonal_lag.")
        c = values[0].shape[1]
        specs = self._head_specs(c, metas[0]["columns"])
        self._check_levels(values, "y", specs)
        fixed = self._unscaled_channels(specs, c)
        if (self.differences or self.seasonal_lag) and fixed.any():
            raise ValueError("differences > 0 or a seasonal_lag cannot be combined with "
                             "integer-level channels (quantization='levels'); difference those "
                             "channels yourself.")
        modelled = [self._difference(v) for v in values]
        # differenced series are scaled, not centred: a network output of 0 is then no drift
        # (the random walk / seasonal naive), as ARIMA with d >= 1 has no constant by default;
        # a drift the data support is still learnt
        loc, scale = self._series_scaling(modelled, fixed, center=not (
            self.differences or self.seasonal_lag))
        cov_loc = cov_scale = None
        if covs is not None:
            cov_loc, cov_scale = _scale_stats(np.concatenate(covs))
        scaled = [_as_tensor((v - l) / s) for v, l, s in zip(modelled, loc, scale)]
        cov_t = None if covs is None else [_as_tensor((v - cov_loc) / cov_scale) for v in covs]
        vf = self.validation_fraction
        cut = [t - int(math.ceil(vf * t)) if vf > 0 else t for t in lengths]
        if vf > 0 and sum(cut) < 1:
            raise ValueError("validation_fraction leaves no training timesteps; lower it.")
        seed = fit_seed(self.random_state, checkpoint)
        device = self._device()

        def build():
            return self._build_network(specs, c, cond_channels=0 if covs is None
                                       else covs[0].shape[1])

        with seeded(seed, device):
            net = build()
            bank = SeriesBank(scaled, rf, self._n_targets(cut), covariates=cov_t,
                              train_ranges=[(0, k) for k in cut],
                              val_ranges=[(k, t) for k, t in zip(cut, lengths)])
            result = self._fit_network(net, bank, device, checkpoint, seed=seed)
        self.network_ = self._ensemble(net.cpu(), build, bank, device, seed, checkpoint).eval()
        self.receptive_field_ = rf
        self.n_channels_ = c
        self.n_covariates_ = 0 if covs is None else covs[0].shape[1]
        self.scaler_ = {"loc": loc, "scale": scale}
        self.unscaled_channels_ = fixed
        self.cov_scaler_ = None if covs is None else {"loc": cov_loc, "scale": cov_scale}
        self.history_ = values
        self.history_X_ = covs
        self.covariate_names_ = None if X is None else covariate_names(X, many)
        self.meta_ = metas
        self.multi_ = many
        self.loss_curve_ = result["loss_curve"]
        self.val_loss_curve_ = result["val_loss_curve"]
        self.n_iter_ = result["n_epochs"]
        return self

    # ------------------------------------------------------------------ paths
    def _context_len(self):
        return self.receptive_field_ if self.context is None else min(self.context,
                                                                      max(self.receptive_field_, 1))

    def _resolve(self, horizon, y, X):
        """Histories, covariates (history + future), scalers and metas for a forecast."""
        check_is_fitted(self)
        fh = check_horizon(self.horizon if horizon is None else horizon)
        if y is None:
            values, metas, many = self.history_, self.meta_, self.multi_
            loc, scale = self.scaler_["loc"], self.scaler_["scale"]
            future = self._check_covariates(X, [0] * len(values), many, "predict", extra=fh,
                                            metas=metas)
            covs = None if future is None else [np.concatenate([h, f]) for h, f in
                                                zip(self.history_X_, future)]
        else:
            values, metas, many = self._check_new_targets(y)
            short = min(v.shape[0] for v in values)
            if short < self._n_lost():
                raise ValueError(f"a history has {short} timesteps but seasonal_lag="
                                 f"{self.seasonal_lag} and differences={self.differences} need at "
                                 f"least {self._n_lost()} to anchor the forecast: pass a longer y.")
            loc, scale = self._history_scaling([self._difference(v) for v in values])
            covs = self._check_covariates(X, [v.shape[0] for v in values], many, "predict",
                                          extra=fh, metas=metas)
        return fh, values, covs, loc, scale, metas, many

    def _paths(self, fh, values, covs, loc, scale, n_paths, seed):
        """Sample paths in original units: list of ``(n_paths, fh, C)`` arrays, one per series."""
        ctx = self._context_len()
        hist = torch.stack([
            torch.cat([torch.full((max(ctx - v.shape[0], 0), v.shape[1]), float("nan")),
                       _as_tensor(((self._difference(v)[-ctx:] - l) / s))])
            for v, l, s in zip(values, loc, scale)])                          # (S, ctx, C)
        cond = None
        if covs is not None:
            cl, cs = self.cov_scaler_["loc"], self.cov_scaler_["scale"]
            need = ctx + fh
            cond = torch.stack([_as_tensor(((cv - cl) / cs)[-need:]) if cv.shape[0] >= need
                                else torch.cat([torch.zeros(need - cv.shape[0], cv.shape[1]),
                                                _as_tensor((cv - cl) / cs)])
                                for cv in covs])                              # (S, ctx+fh, K)
            cond = cond.repeat_interleave(n_paths, 0)
        hist = hist.repeat_interleave(n_paths, 0)                            # (S*n_paths, ...)
        draws = self._generate(hist, fh, cond=cond, seed=seed).double().numpy()
        draws = draws.reshape(len(values), n_paths, fh, -1)
        return [self._integrate(d * s + l, v) for d, l, s, v in zip(draws, loc, scale, values)]

    def _predict_seed(self):
        """The seed of the paths behind ``predict``: those of ``sample(n_paths,
        random_state=random_state)`` for an int ``random_state``, else of ``random_state=0``."""
        return make_seed(self.random_state if isinstance(self.random_state, numbers.Integral)
                         else 0)

    # ------------------------------------------------------------------ output formatting
    @staticmethod
    def _future(meta, fh):
        return future_index(meta["index"], fh) if meta["index"] is not None else None

    def _point_out(self, arr, meta, fh):  # arr (fh, C)
        kind = meta["kind"]
        if kind == "1d":
            return arr[:, 0]
        if kind == "2d":
            return arr
        idx = self._future(meta, fh)
        if kind == "series":
            return pd.Series(arr[:, 0], index=idx, name=meta["name"])
        return pd.DataFrame(arr, index=idx, columns=_column_index(meta))

    def _columns(self, meta):
        if meta["kind"] == "series":
            return [meta["name"] if meta["name"] is not None else 0]
        return meta["columns"]

    def _many(self, outs, many):
        return outs if many else outs[0]

    # ------------------------------------------------------------------ public forecasting
    def predict(self, horizon=None, *, y=None, X=None):
        """Point forecast (median of the sample paths), deterministic for a fitted model.

        ``y=`` forecasts from a new history without refitting (its covariates ``X`` then cover
        history and horizon); otherwise ``X`` covers the horizon only. A model of one series
        takes every history as that series, and a global model takes as many as were fitted as
        the fitted series continued: each is standardised with its fitted scaling, so the
        forecast depends only on its last ``context`` modelled timesteps. Any other number of
        histories for a global model are new series, each standardised by the mean and scale
        of the history passed.
        """
        fh, values, covs, loc, scale, metas, many = self._resolve(horizon, y, X)
        paths = self._paths(fh, values, covs, loc, scale, self.n_paths, self._predict_seed())
        return self._many([self._point_out(np.median(p, axis=0), m, fh)
                           for p, m in zip(paths, metas)], many)

    def predict_quantiles(self, horizon=None, quantiles=(0.1, 0.5, 0.9), *, y=None, X=None):
        """Forecast quantiles from the sample paths.

        Returns ``(horizon, n_quantiles)`` for a 1-D series, ``(horizon, n_channels,
        n_quantiles)`` for a 2-D one, or a DataFrame with columns ``(variable, quantile)``.
        """
        q = check_quantiles(quantiles)
        fh, values, covs, loc, scale, metas, many = self._resolve(horizon, y, X)
        paths = self._paths(fh, values, covs, loc, scale, self.n_paths, self._predict_seed())
        outs = []
        for p, meta in zip(paths, metas):
            arr = np.moveaxis(np.quantile(p, q, axis=0), 0, -1)              # (fh, C, Q)
            if meta["kind"] == "1d":
                outs.append(arr[:, 0])
            elif meta["kind"] == "2d":
                outs.append(arr)
            else:
                cols = pd.MultiIndex.from_product([self._columns(meta), q.tolist()],
                                                  names=["variable", "quantile"])
                outs.append(pd.DataFrame(arr.reshape(fh, -1), index=self._future(meta, fh),
                                         columns=cols))
        return self._many(outs, many)

    def predict_interval(self, horizon=None, coverage=0.9, *, y=None, X=None):
        """Central prediction intervals: ``(..., 2)`` as (lower, upper) for one coverage,
        ``(..., n_coverages, 2)`` for a list, or a DataFrame with columns ``(variable,
        coverage, "lower"/"upper")``. All coverages come from the same sample paths."""
        coverages, one = check_coverage(coverage)
        quant = self.predict_quantiles(horizon, interval_quantiles(coverages), y=y, X=X)
        return quantiles_to_intervals(quant, coverages, one)

    def sample(self, n_samples=100, horizon=None, *, y=None, X=None, random_state=None):
        """Sample future paths: ``(n_samples, horizon, n_channels)``, or for pandas input a long
        DataFrame indexed by (sample, time)."""
        n_samples = check_horizon(n_samples, "n_samples")
        fh, values, covs, loc, scale, metas, many = self._resolve(horizon, y, X)
        paths = self._paths(fh, values, covs, loc, scale, n_samples, make_seed(random_state))
        outs = []
        for p, meta in zip(paths, metas):
            if meta["kind"] in ("series", "frame"):
                idx = pd.MultiIndex.from_product([range(n_samples), self._future(meta, fh)],
                                                 names=["sample", "time"])
                outs.append(pd.DataFrame(p.reshape(-1, p.shape[2]), index=idx,
                                         columns=self._columns(meta) if meta["kind"] == "series"
                                         else _column_index(meta)))
            else:
                outs.append(p)
        return self._many(outs, many)

    # ------------------------------------------------------------------ scoring and updating
    def score_steps(self, y, X=None):
        """One-step log-likelihood (nats, original units) of every element of ``y``, each step
        conditioned on the steps before it; shaped like ``y`` (NaN where ``y`` is missing).

        Each series is standardised with a scaling fixed at fit time — series ``i``'s own when
        ``y`` holds as many series as were fitted (or the one of a single-series model), else
        the pooled training scaling — so a
        step's score depends on nothing after it. (Forecasts for new series use each history's
        own scaling instead, see :meth:`predict`; for a likelihood that would make every step
        depend on the whole series.)"""
        check_is_fitted(self)
        values, metas, many = self._check_new_targets(y)
        covs = self._check_covariates(X, [v.shape[0] for v in values], many, "score",
                                      metas=metas)
        modelled = [self._difference(v) for v in values]
        loc, scale = self._history_scaling(modelled, own=False)
        outs = []
        cov_t = None
        if covs is not None:
            cl, cs = self.cov_scaler_["loc"], self.cov_scaler_["scale"]
            cov_t = [_as_tensor((cv - cl) / cs) for cv in covs]
        scaled = [(_as_tensor((v - l) / s), s) for v, l, s in zip(modelled, loc, scale)]
        lps = self._log_prob_scaled([t for t, _ in scaled], cov_t)
        for v, lp, (_, s), meta in zip(modelled, lps, scaled, metas):
            arr = np.where(np.isnan(v), np.nan, lp - np.log(s))
            if meta["kind"] == "1d":
                outs.append(arr[:, 0])
            elif meta["kind"] == "2d":
                outs.append(arr)
            elif meta["kind"] == "series":
                outs.append(pd.Series(arr[:, 0], index=meta["index"], name=meta["name"]))
            else:
                outs.append(pd.DataFrame(arr, index=meta["index"], columns=_column_index(meta)))
        return self._many(outs, many)

    def score(self, y, X=None):
        """Mean one-step log-likelihood per timestep (summed over channels), in nats."""
        steps = self.score_steps(y, X)
        steps = steps if isinstance(steps, list) else [steps]
        per_t = [np.asarray(s, dtype=float).reshape(len(s), -1) for s in steps]
        observed = np.concatenate([np.nansum(s, axis=1)[~np.isnan(s).all(axis=1)]
                                   for s in per_t])
        if observed.size == 0:
            raise ValueError("y has no step to score: every value is missing, or the series "
                             f"is too short for differences={self.differences} and "
                             f"seasonal_lag={self.seasonal_lag} (the first "
                             f"{self._n_lost()} steps have no likelihood).")
        return float(observed.mean())

    def update(self, y, X=None):
        """Append new observations (and their covariates) to the stored history; no refit."""
        check_is_fitted(self)
        values, metas, many = self._check_new_targets(y, warn=False)
        if many != self.multi_ or len(values) != len(self.history_):
            raise ValueError(f"update() needs as many series as fit ({len(self.history_)}).")
        covs = self._check_covariates(X, [v.shape[0] for v in values], many, "update",
                                      metas=metas)
        for i, (v, meta) in enumerate(zip(values, metas)):
            old = self.meta_[i]
            if (old["index"] is None) != (meta["index"] is None):
                raise ValueError("update() takes the same kind of input as fit (pandas or "
                                 "numpy).")
            if old["index"] is not None and len(meta["index"]):
                try:
                    before = meta["index"][0] <= old["index"][-1]
                except TypeError:       # e.g. a RangeIndex after dates, tz-aware after naive
                    raise ValueError(
                        f"the new observations' index ({type(meta['index']).__name__}, starting "
                        f"{meta['index'][0]!r}) does not continue the stored one "
                        f"({type(old['index']).__name__}, ending {old['index'][-1]!r}); pass "
                        "them with the same kind of time index.") from None
                if before:
                    raise ValueError(f"the new observations start at {meta['index'][0]}, not "
                                     f"after the stored history's end {old['index'][-1]}.")
        warn_irregular(metas, "y", many, stored=self.meta_)
        for i, v in enumerate(values):
            self.history_[i] = np.concatenate([self.history_[i], v])
            if covs is not None:
                self.history_X_[i] = np.concatenate([self.history_X_[i], covs[i]])
            old = self.meta_[i]
            if old["index"] is not None:
                self.meta_[i] = {**old, "index": old["index"].append(metas[i]["index"])}
        return self
