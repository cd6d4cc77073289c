"""WaveNet as a vocoder: local conditioning on frame-rate features, mu-law audio, generation."""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from tsargen import WaveNetDensity, load
from tsargen.audio import log_mel, mu_law_decode, mu_law_encode, read_wav
from tsargen.estimators._runtime import make_seed
from tsargen.estimators._training import SeriesBank, window_nll
from tsargen.networks import WaveNet, generate

SR, HOP, N_FFT, N_MELS = 8000, 32, 64, 8
AUDIO = dict(distribution="categorical", quantization="levels", n_bins=256, cond_hop=HOP)
TINY = dict(n_layers=3, residual_channels=8, skip_channels=8, max_epochs=1, batch_size=8,
            random_state=0)


def _mels(x):
    return log_mel(x, SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, center=True)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    waves = [0.5 * np.sin(2 * np.pi * rng.uniform(200, 1500) * np.arange(n) / SR
                          + rng.uniform(0, 6)) for n in (300, 420, 360)]
    return waves, [mu_law_encode(w) for w in waves], [_mels(w) for w in waves]


@pytest.fixture(scope="module")
def vocoder(clips):
    _, levels, mels = clips
    return WaveNetDensity(**AUDIO, **TINY).fit(levels, y=[0, 1, 0], covariates=mels)


# ---------------------------------------------------------------------------- generation
def test_cached_generation_equals_naive_with_frame_conditioning():
    torch.manual_seed(0)
    net = WaveNet([{"name": "categorical", "kwargs": {"n_bins": 256, "quantization": "levels"},
                    "channels": [0]}], n_stacks=1, n_layers=4, residual_channels=8,
                  skip_channels=8, cond_channels=3, n_classes=2).double()
    net.heads.fit(torch.arange(256.0)[:, None])
    hist = torch.randint(0, 256, (3, 1, 5)).double()
    frames = torch.randn(3, 3, 6, dtype=torch.float64)               # (B, K, F)
    index = torch.arange(5 + 40) // 8                                # hop 8 -> 6 frames
    labels = torch.tensor([1, 0, 1])
    out = []
    for naive, cond, idx in ((False, frames, index), (True, frames, index),
                             (False, frames[:, :, index], None)):    # materialised at the rate
        with torch.random.fork_rng():
            torch.manual_seed(3)
            out.append(generate(net, hist, 40, cond, labels, naive=naive, cond_index=idx))
    assert out[0].shape == (3, 1, 40)
    assert torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])
    # and the frames are used: other frames, same random stream, other samples
    with torch.random.fork_rng():
        torch.manual_seed(3)
        other = generate(net, hist, 40, -frames, labels, cond_index=index)
    assert not torch.equal(out[0], other)


def test_estimator_sample_equals_naive_generation_on_sample_rate_features(vocoder, clips):
    """The estimator's cached, frame-rate path == a naive run on features repeated to the
    sample rate by hand (zeros over the receptive-field padding, frame t // hop at sample t).
    The two samples of label 1 share their priming, each with covariates of its own."""
    _, _, mels = clips
    length, rf, seed = 150, vocoder.receptive_field_, 1234
    got = vocoder.sample(3, length=length, y=[1, 0, 1], covariates=[mels[0], mels[2], mels[1]],
                         random_state=np.random.RandomState(seed))
    sc = vocoder.cov_scaler_
    cond = torch.zeros(3, N_MELS, rf + length)
    for i, m in enumerate((mels[0], mels[2], mels[1])):
        frames = torch.as_tensor((m - sc["loc"]) / sc["scale"], dtype=torch.float32)
        cond[i, :, rf:] = frames[torch.arange(length) // HOP].T
    with torch.random.fork_rng():
        torch.manual_seed(make_seed(np.random.RandomState(seed)))
        ref = generate(vocoder.network_, torch.full((3, 1, rf), float("nan")), length, cond,
                       torch.tensor([1, 0, 1]), naive=True)
    assert np.array_equal(got, ref[:, 0].numpy())


def test_sample_and_complete_shapes_seed_and_waveform(vocoder, clips):
    _, levels, mels = clips
    a = vocoder.sample(2, length=300, y=[0, 1], covariates=[mels[0], mels[2]], random_state=1)
    b = vocoder.sample(2, length=300, y=[0, 1], covariates=[mels[0], mels[2]], random_state=1)
    assert a.shape == (2, 300) and np.array_equal(a, b)
    assert np.array_equal(a, np.rint(a)) and a.min() >= 0 and a.max() <= 255
    wave = mu_law_decode(a.astype(int))
    assert np.abs(wave).max() <= 1.0
    # one array serves every sample; the default length is n_frames * cond_hop
    c = vocoder.sample(3, y=0, covariates=mels[1], random_state=1)
    assert c.shape == (3, len(mels[1]) * HOP)
    done = vocoder.complete(np.stack([levels[0]]), n_known=200, n_samples=2, y=[0],
                            covariates=[mels[0]], random_state=0)
    assert done.shape == (2, 1, 300)
    assert np.array_equal(done[:, 0, :200], np.broadcast_to(levels[0][:200], (2, 200)))


def test_samples_depend_on_the_label():
    rng = np.random.default_rng(1)
    n = 400
    low = [mu_law_encode(-0.4 + 0.05 * rng.normal(size=n)) for _ in range(4)]
    high = [mu_law_encode(0.4 + 0.05 * rng.normal(size=n)) for _ in range(4)]
    mels = [np.zeros((n // HOP + 1, 2)) for _ in range(8)]
    d = WaveNetDensity(**AUDIO, n_layers=3, residual_channels=8, skip_channels=8, max_epochs=4,
                       batch_size=16, lr=1e-2, validation_fraction=0, random_state=0)
    d.fit(low + high, y=[0] * 4 + [1] * 4, covariates=mels)
    s0 = d.sample(4, length=n, y=0, covariates=mels[0], random_state=0)
    s1 = d.sample(4, length=n, y=1, covariates=mels[0], random_state=0)
    assert s0.mean() < 128 < s1.mean()


def test_local_features_matter_for_vocoding():
    """Frequency given by the frames: vocoding with the clip's own frames is spectrally closer
    to the clip than generating with frames shifted by one segment (each frame then describes
    the other frequency)."""
    rng = np.random.default_rng(0)
    seg, n_seg = 256, 4

    def clip(pattern):
        f = np.repeat(np.where(pattern, 1200.0, 300.0), seg)
        return 0.6 * np.sin(np.cumsum(2 * np.pi * f / SR) + rng.uniform(0, 6))

    train = [clip(rng.integers(0, 2, n_seg)) for _ in range(16)]
    d = WaveNetDensity(distribution="categorical", quantization="levels", n_bins=16,
                       cond_hop=HOP, n_layers=5, residual_channels=16, skip_channels=16,
                       max_epochs=5, batch_size=16, lr=1e-2, validation_fraction=0,
                       random_state=0)
    d.fit([mu_law_encode(w, mu=15) for w in train], covariates=[_mels(w) for w in train])
    target = clip(np.array([0, 1, 0, 1]))
    own = _mels(target)
    shifted = np.roll(own, seg // HOP, axis=0)

    def distance(frames):
        lv = d.sample(4, length=len(target), covariates=frames, random_state=0)
        voc = mu_law_decode(lv.astype(int), mu=15)
        return np.mean([np.abs(_mels(v) - own).mean() for v in voc])

    assert distance(own) < 0.8 * distance(shifted)


# ---------------------------------------------------------------------------- likelihood
def test_causality_with_covariates(vocoder, clips):
    _, levels, mels = clips
    x = levels[1].astype(float)
    base = vocoder.score_steps([x], y=[1], covariates=[mels[1]])[0]
    for i in (0, 57, 200, 419):
        x2 = x.copy()
        x2[i] = (x2[i] + 77) % 256
        steps = vocoder.score_steps([x2], y=[1], covariates=[mels[1]])[0]
        assert np.array_equal(steps[:i], base[:i])
        assert steps[i] != base[i]
    # the frames are known ahead: changing one changes the steps of its samples
    m2 = mels[1].copy()
    m2[5] += 1.0
    steps = vocoder.score_steps([x], y=[1], covariates=[m2])[0]
    assert np.array_equal(steps[:5 * HOP], base[:5 * HOP])
    assert not np.allclose(steps[5 * HOP:6 * HOP], base[5 * HOP:6 * HOP])


def test_categorical_over_mu_law_levels_sums_to_one(vocoder, clips):
    _, levels, mels = clips
    t = 150
    x = np.repeat(levels[0][None, :t + 1].astype(float), 256, axis=0)
    x[:, t] = np.arange(256)
    frames = [mels[0][:-(-(t + 1) // HOP)]] * 256                   # those covering t + 1
    for y in ([0] * 256, [1] * 256):
        steps = vocoder.score_steps(x, y=y, covariates=frames)
        assert abs(logsumexp(steps[:, t])) < 1e-5
        assert np.allclose(steps[:, :t], steps[0, :t])
    total = vocoder.score_samples([levels[0]], y=[0], covariates=[mels[0]])
    steps = vocoder.score_steps([levels[0]], y=[0], covariates=[mels[0]])[0]
    assert np.isclose(total[0], steps.sum())
    # without y: the mixture over the labels, still normalised
    steps = vocoder.score_steps(x, covariates=frames)
    assert abs(logsumexp(steps[:, t])) < 1e-5


def test_save_load_roundtrip(vocoder, clips, tmp_path):
    _, levels, mels = clips
    vocoder.save(tmp_path / "voc.tsargen")
    again = load(tmp_path / "voc.tsargen")
    assert np.array_equal(again.score_samples(levels, y=[0, 1, 0], covariates=mels),
                          vocoder.score_samples(levels, y=[0, 1, 0], covariates=mels))


# ---------------------------------------------------------------------------- training windows
def test_series_bank_repeats_frames_and_never_counts_padding():
    pad, n_targets, hop = 5, 8, 4
    series = [torch.arange(n, dtype=torch.float32)[:, None] for n in (10, 23)]
    frames = [torch.arange(1, -(-n // hop) + 1, dtype=torch.float32)[:, None] for n in (10, 23)]
    bank = SeriesBank(series, pad, n_targets, covariates=frames, cov_hop=hop,
                      val_ranges=[(0, 10), (0, 23)])
    x, cov, _, keep = bank.gather(torch.tensor([1, 0]), torch.tensor([0, 8]),
                                  torch.tensor([0, 0]), torch.tensor([23, 10]))
    t = torch.arange(-pad, n_targets)
    for b, (start, n) in enumerate(((0, 23), (8, 10))):
        tt = start + t
        inside = (tt >= 0) & (tt // hop < -(-n // hop))           # frames cover n rounded up
        expect = torch.where(inside, tt // hop + 1, 0).float()
        assert torch.equal(cov[b, 0], expect)
    assert torch.isnan(x[0, 0, :pad]).all() and keep[1].sum() == 2    # 10 - 8 targets left
    # a loss over windows that tile every clip counts each real sample once, no padding
    net = WaveNet([{"name": "gaussian", "channels": [0]}], n_stacks=1, n_layers=2,
                  residual_channels=4, skip_channels=4, cond_channels=1)
    count = sum(window_nll(net, batch, pad)[1].item() for batch in bank.val_batches(3))
    assert count == 10 + 23


def test_random_crops_are_longer_than_the_receptive_field(vocoder, clips):
    _, levels, mels = clips
    rf = vocoder.receptive_field_
    n_targets = vocoder._n_targets([len(v) for v in levels])
    assert n_targets >= rf
    bank = SeriesBank([torch.as_tensor(v, dtype=torch.float32)[:, None] for v in levels], rf,
                      n_targets, covariates=[torch.as_tensor(m, dtype=torch.float32)
                                             for m in mels], cov_hop=HOP)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for x, cov, _, keep in bank.train_batches(8):
            assert x.shape[2] == cov.shape[2] == rf + n_targets
            assert keep.any(dim=1).all()                     # every crop has counted targets


# ---------------------------------------------------------------------------- bad input
def test_bad_covariates(vocoder, clips):
    _, levels, mels = clips
    with pytest.raises(ValueError, match="do not cover"):
        vocoder.score_samples(levels, y=[0, 1, 0], covariates=[mels[0][:5], mels[1], mels[2]])
    with pytest.raises(ValueError, match="check cond_hop"):
        vocoder.score_samples(levels[:1], y=[0], covariates=[np.repeat(mels[0], 2, axis=0)])
    with pytest.raises(ValueError, match="2 arrays but there are 3 series"):
        vocoder.score_samples(levels, y=[0, 1, 0], covariates=mels[:2])
    bad = mels[0].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vocoder.score_samples(levels[:1], y=[0], covariates=[bad])
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="inf"):
        vocoder.sample(1, length=100, y=0, covariates=[bad])
    with pytest.raises(ValueError, match="pass covariates="):
        vocoder.score_samples(levels, y=[0, 1, 0])
    with pytest.raises(ValueError, match="pass covariates="):
        vocoder.sample(1, length=100, y=0)
    with pytest.raises(ValueError, match="features but the model was fitted with 8"):
        vocoder.score_samples(levels[:1], y=[0], covariates=[mels[0][:, :3]])
    with pytest.raises(ValueError, match="do not cover"):
        vocoder.sample(1, length=10_000, y=0, covariates=[mels[0]])
    with pytest.raises(TypeError, match="list of"):
        vocoder.score_samples(levels[:1], y=[0], covariates="mels.npy")
    with pytest.raises(ValueError, match="cond_hop must be a positive integer"):
        WaveNetDensity(**{**AUDIO, "cond_hop": 0}, **TINY).fit(levels, covariates=mels)
    with pytest.raises(ValueError, match="time_position"):
        WaveNetDensity(**AUDIO, **TINY, time_position=True).fit(levels, covariates=mels)
    plain = WaveNetDensity(**{**AUDIO, "cond_hop": 1}, **TINY).fit(levels)
    with pytest.raises(ValueError, match="without local covariates"):
        plain.score_samples(levels, covariates=mels)


def test_fsdd_clip_frames_cover_the_clip(data_dir):
    x, sr = read_wav(data_dir / "audio" / "fsdd" / "7_jackson_32.wav", sample_rate=8000)
    frames = log_mel(x, sr, n_fft=256, hop_length=64, n_mels=40, center=True)
    assert frames.shape == (1 + len(x) // 64, 40)
    d = WaveNetDensity(**{**AUDIO, "cond_hop": 64}, **TINY)
    assert len(d._check_covariates([frames], [len(x)], "fit")) == 1


def test_float_audio_recipe_samples_waveforms_and_writes_wav(clips, tmp_path):
    """A 256-way mu-law softmax fitted on float audio directly: ``sample`` returns float
    waveforms in [-1, 1], which write_wav/read_wav round-trip as int16."""
    from tsargen.audio import write_wav
    waves, _, mels = clips
    d = WaveNetDensity(distribution="categorical", quantization="mu_law", n_bins=256,
                       cond_hop=HOP, **TINY).fit(waves, covariates=mels)
    x = d.sample(2, length=300, covariates=mels[0], random_state=0)    # one array: all samples
    assert x.shape == (2, 300) and x.dtype.kind == "f"
    assert np.abs(x).max() <= 1.0                               # the mu-law bins' span
    assert len(np.unique(np.round(x, 6))) > 20                 # a waveform, not a few levels
    write_wav(tmp_path / "s.wav", x[0], SR)
    back, sr = read_wav(tmp_path / "s.wav")
    assert sr == SR and np.abs(back - x[0]).max() <= 1 / 32767 + 1e-9
