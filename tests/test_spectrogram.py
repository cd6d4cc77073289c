"""Signal-image transforms: Spectrogram (STFT frames, Griffin-Lim inverse) and OrderBookImage."""

import numpy as np
import pandas as pd
import pytest

from tsargen.transforms import OrderBookImage, Spectrogram
from tsargen.transforms.spectrogram import istft, stft


def _chirp(sr=8000, seconds=1.0):
    t = np.arange(int(sr * seconds)) / sr
    return np.sin(2 * np.pi * (200 * t + 900 * t ** 2))          # 200 Hz -> 2 kHz


# ---------------------------------------------------------------------------- Spectrogram
def test_stft_frames_and_exact_inverse():
    x = np.random.default_rng(0).normal(size=(2, 1000))
    spec = stft(x, 64, 16)
    assert spec.shape == (2, 1 + (1000 - 64) // 16, 33)
    # frame 3 by hand: Hann-windowed samples 48..111
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(64) / 64)
    np.testing.assert_allclose(spec[1, 3], np.fft.rfft(x[1, 48:112] * win), atol=1e-12)
    back = istft(spec, 64, 16)
    assert back.shape == (2, (spec.shape[1] - 1) * 16 + 64)
    n = back.shape[1]
    np.testing.assert_allclose(back[:, 1:n - 1], x[:, 1:n - 1], atol=1e-10)   # edges: window 0


def test_spectrogram_shapes_and_pandas():
    x = _chirp()
    sp = Spectrogram(n_fft=128, hop_length=32).fit(x)
    S = sp.transform(x)
    assert S.shape == (1 + (8000 - 128) // 32, 65)
    # the chirp's peak frequency rises over time
    peaks = S.argmax(axis=1)
    assert peaks[-1] > peaks[len(peaks) // 2] > peaks[0]
    multi = np.stack([x, 0.5 * x[::-1]], axis=1)
    S2 = Spectrogram(n_fft=128, hop_length=32).fit(multi).transform(multi)
    assert S2.shape == S.shape + (2,)
    np.testing.assert_allclose(S2[..., 0], S)
    idx = pd.date_range("2024-01-01", periods=8000, freq="125us")
    df = Spectrogram(n_fft=128, hop_length=32, sample_rate=8000).fit_transform(
        pd.Series(x, index=idx))
    assert isinstance(df, pd.DataFrame) and df.shape == S.shape
    assert df.index[0] == idx[127] and df.columns[1] == pytest.approx(62.5)
    np.testing.assert_allclose(df.to_numpy(), S)


def test_griffin_lim_reconstructs_a_chirp():
    x = _chirp()
    sp = Spectrogram(n_fft=128, hop_length=32, n_iter=32, random_state=0).fit(x)
    S = sp.transform(x)
    rec = sp.inverse_transform(S)
    assert rec.shape == ((S.shape[0] - 1) * 32 + 128,)
    mag, mag_rec = np.exp(S), np.exp(sp.transform(rec))
    convergence = np.linalg.norm(mag_rec - mag) / np.linalg.norm(mag)
    assert convergence < 0.2
    assert np.corrcoef(mag.ravel(), mag_rec.ravel())[0, 1] > 0.95
    # the waveform itself (up to sign, window by window) correlates with the original
    w = len(rec) // 128 * 128
    corr = [abs(np.corrcoef(a, b)[0, 1]) for a, b in
            zip(rec[:w].reshape(-1, 128), x[:w].reshape(-1, 128))]
    assert np.median(corr) > 0.5
    # the iterations are what does it: random phases alone are far off
    raw = Spectrogram(n_fft=128, hop_length=32, n_iter=0).fit(x)
    rec0 = raw.inverse_transform(S)
    assert np.linalg.norm(np.exp(raw.transform(rec0)) - mag) / np.linalg.norm(mag) > (
        3 * convergence)
    # seeded: same random_state, same signal
    assert np.array_equal(rec, sp.inverse_transform(S))


def test_spectrogram_bad_input():
    sp = Spectrogram(n_fft=64).fit(np.zeros(100))
    with pytest.raises(ValueError, match="n_fft=64"):
        sp.transform(np.zeros(30))
    bad = np.zeros(100)
    bad[5] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        sp.transform(bad)
    with pytest.raises(ValueError, match="channels"):
        sp.transform(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="33"):
        sp.inverse_transform(np.zeros((5, 20)))
    with pytest.raises(ValueError, match="even"):
        Spectrogram(n_fft=63).fit(np.zeros(100))


# ---------------------------------------------------------------------------- OrderBookImage
def _book():
    """Three snapshots of a 3-level book (tick 0.01): spread 1 tick, 2 ticks, and a level far
    out plus a LOBSTER dummy level (price 999999.9999, size 0)."""
    return pd.DataFrame({
        "ask_price_1": [10.01, 10.02, 10.01], "ask_size_1": [100, 50, 7],
        "bid_price_1": [10.00, 10.00, 10.00], "bid_size_1": [200, 30, 8],
        "ask_price_2": [10.02, 10.03, 10.30], "ask_size_2": [10, 5, 9],
        "bid_price_2": [9.99, 9.98, 9.99], "bid_size_2": [20, 3, 6],
        "ask_price_3": [10.04, 10.05, 999999.9999], "ask_size_3": [1, 2, 0],
        "bid_price_3": [9.97, 9.96, 9.97], "bid_size_3": [4, 1, 2],
    }, index=pd.to_datetime(["2012-06-21 09:30:00.2", "2012-06-21 09:30:00.7",
                             "2012-06-21 09:30:02.5"]))


def test_orderbook_image_bins_by_hand():
    book = _book()
    ob = OrderBookImage(n_ticks=3, tick_size=0.01).fit(book)
    img = ob.transform(book)
    assert ob.n_levels_ == 3 and img.columns.tolist() == [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]
    L = np.log1p
    expected = np.array([
        # mid 10.005: bids 0, 1, 3 ticks (3rd dropped); asks 0, 1, 3 ticks
        [0.0, -L(20), -L(200), L(100), L(10), 0.0],
        # mid 10.01: a 2-tick spread leaves the bins next to the mid empty; 9.98 is 3 ticks out
        [0.0, -L(30), 0.0, 0.0, L(50), L(5)],
        # ask at 10.30, the bid 3.5 ticks out and the dummy level are out of range
        [0.0, -L(6), -L(8), L(7), 0.0, 0.0]])
    np.testing.assert_allclose(img.to_numpy(), expected, atol=1e-12)
    # inverse: exact prices and sizes for the levels inside the window
    back = ob.inverse_transform(img, mid=ob.mid_price(book))
    assert back.loc[back.index[0], "ask_price_2"] == pytest.approx(10.02)
    assert back.loc[back.index[1], "ask_price_2"] == pytest.approx(10.03)
    assert back.loc[back.index[1], "ask_size_2"] == 5 and back.iloc[1]["bid_size_2"] == 0
    assert back.iloc[2]["ask_size_2"] == 0 and np.isnan(back.iloc[2]["ask_price_2"])
    np.testing.assert_allclose(back[["ask_price_1", "bid_price_1", "ask_size_1", "bid_size_1"]],
                               book[["ask_price_1", "bid_price_1", "ask_size_1", "bid_size_1"]])


def test_orderbook_image_resamples_by_last_value():
    book = _book()
    ob = OrderBookImage(n_ticks=3, resample="1s").fit(book)
    img = ob.transform(book)
    # rows at 09:30:01 (last event: the 0.7 s snapshot), 09:30:02 (carried), 09:30:03
    assert list(img.index) == list(pd.to_datetime(["2012-06-21 09:30:01", "2012-06-21 09:30:02",
                                                   "2012-06-21 09:30:03"]))
    full = OrderBookImage(n_ticks=3).fit(book).transform(book).to_numpy()
    np.testing.assert_allclose(img.to_numpy(), full[[1, 1, 2]])


def test_orderbook_image_bad_input():
    book = _book()
    with pytest.raises(ValueError, match="ask_price_1"):
        OrderBookImage().fit(book.drop(columns="bid_size_1"))
    with pytest.raises(TypeError, match="DataFrame"):
        OrderBookImage().fit(book.to_numpy())
    with pytest.raises(ValueError, match="DatetimeIndex"):
        OrderBookImage(resample="1s").fit(book).transform(book.reset_index(drop=True))
    ob = OrderBookImage(n_ticks=3).fit(book)
    with pytest.raises(ValueError, match="mid="):
        ob.inverse_transform(ob.transform(book))
    with pytest.raises(ValueError, match="6 columns"):
        ob.inverse_transform(np.zeros((2, 4)), mid=10.0)
    with pytest.raises(ValueError, match="n_ticks"):
        OrderBookImage(n_ticks=0).fit(book)
