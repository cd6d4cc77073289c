"""WaveNetDensity: an autoregressive density of a panel of series (wraps
:class:`tsargen.networks.WaveNet`; values standardised globally per channel)."""

import math
from numbers import Integral

import numpy as np
import torch
from sklearn.base import DensityMixin
from sklearn.utils.validation import check_is_fitted

from ..constraints import Interval, check_param, check_positive_int
from ..validation import check_panel, check_series
from ._checkpoint import fit_seed
from ._conditional import ClassConditional
from ._runtime import make_seed, seeded
from ._training import SeriesBank
from ._wavenet import (COMMON_DOC, POSITION_HARMONICS, WaveNetParams, as_tensor, check_observed,
                       panel_columns, scale_stats)


class WaveNetDensity(ClassConditional, DensityMixin, WaveNetParams):
    __doc__ = """Autoregressive density of a panel of series, ``p(x) = prod_t p(x_t | x_<t)``.

    Parameters
    ----------""" + COMMON_DOC + """    time_position : bool, default=False
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
                 patience=10, ema_decay=None, device="auto", random_state=None, verbose=False,
                 n_threads=1):
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
        self.n_threads = n_threads

    _label_unit = "series"
    _parameter_constraints = {"time_position": [bool], "cond_hop": [Interval(Integral, 1, None)]}

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
            fitted_names, names = getattr(self, "channel_names_", None), panel_columns(X)
            if fitted_names is not None and names is not None and names != fitted_names:
                raise ValueError(f"X has the columns {names} but the model was fitted on "
                                 f"{fitted_names}: select and order them the same way.")
            self._check_levels(series, "X")
        return series, kind

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
        return [as_tensor((v - loc) / scale) for v in covs]

    def _scale(self, series):
        loc, scale = self.scaler_["loc"], self.scaler_["scale"]
        return [as_tensor((s - loc) / scale) for s in series]

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
        check_observed(series, "X")
        covs = self._check_covariates(covariates, [s.shape[0] for s in series], "fit")
        cov_scaler = None
        if covs is not None:
            cov_loc, cov_scale = scale_stats(np.concatenate(covs))
            cov_scaler = {"loc": cov_loc, "scale": cov_scale}
        c = series[0].shape[1]
        columns = panel_columns(X)
        specs = self._head_specs(c, columns)
        self._check_levels(series, "X", specs)
        loc, scale = scale_stats(np.concatenate(series))
        fixed = self._unscaled_channels(specs, c)
        loc[fixed], scale[fixed] = 0.0, 1.0
        classes, prior, labels = self._encode_classes(labels)
        scaled = [as_tensor((s - loc) / scale) for s in series]
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
            cond, hop = [as_tensor((v - cov_scaler["loc"]) / cov_scaler["scale"])
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
        n_samples = check_positive_int(n_samples, "n_samples") if n_samples != 0 else 0
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
        length = check_positive_int(length, "length")
        seed = make_seed(random_state)
        covs = self._check_covariates(covariates, [length] * n_samples, "sample", exact=False)
        labels = self._sample_labels(y, n_samples, seed)
        # every sample continues the same empty history: primed once (per label)
        history = torch.zeros(1, 0, self.n_channels_)
        paths = torch.zeros(n_samples, dtype=torch.long)
        if covs is not None:
            frames, index = self._frames(covs, length)
            x = self._generate(history, length, cond=frames, labels=labels, seed=seed,
                               cond_index=index, paths=paths)
        else:
            cond = self._positions([length], self.position_ref_)
            cond = None if cond is None else cond[0].expand(n_samples, -1, -1)
            x = self._generate(history, length, cond=cond, labels=labels, seed=seed,
                               paths=paths)
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
        check_param(n_known, "n_known", [Interval(Integral, 0, t, closed="both")])
        n_samples = check_positive_int(n_samples, "n_samples")
        covs = self._check_covariates(covariates, [t] * len(series), "complete")
        seed = make_seed(random_state)
        if y is None and self.classes_ is not None:   # the marginal: classes given the known part
            labels = self._posterior_labels(series, n_known, n_samples, covs, seed)
        else:
            labels = self._check_labels(y, len(series))
            labels = None if labels is None else labels.repeat(n_samples)
        known = torch.stack(self._scale(series))[:, :n_known]              # (n, n_known, C)
        paths = torch.arange(len(series)).repeat(n_samples)     # sample-major; primed once each
        arr = np.stack(series)                                   # (n, T, C)
        out = np.repeat(arr[None], n_samples, axis=0)            # (n_samples, n, T, C)
        if n_known < t and covs is not None:
            frames, index = self._frames(covs, t)
            new = self._unscale(self._generate(known, t - n_known,
                                               cond=frames.repeat(n_samples, 1, 1),
                                               labels=labels, seed=seed, cond_index=index,
                                               paths=paths))
            out[:, :, n_known:] = new.reshape(n_samples, len(series), t - n_known, -1)
        elif n_known < t:
            cond = self._positions([t], self.position_ref_)
            cond = None if cond is None else cond[0].expand(paths.shape[0], -1, -1)
            new = self._unscale(self._generate(known, t - n_known, cond=cond, labels=labels,
                                               seed=seed, paths=paths))
            out[:, :, n_known:] = new.reshape(n_samples, len(series), t - n_known, -1)
        return out[..., 0] if kind == "2d" or (kind == "list" and self.n_channels_ == 1) else out


