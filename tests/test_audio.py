"""Audio helpers: wav round trips, clear errors, mel features, resampling."""

import numpy as np
import pytest
from scipy.io import wavfile

from tsargen.audio import log_mel, mel_filterbank, read_wav, resample, write_wav


def test_int16_wav_roundtrip_is_identity(tmp_path):
    raw = np.random.default_rng(0).integers(-32768, 32768, size=4000).astype(np.int16)
    wavfile.write(tmp_path / "a.wav", 8000, raw)
    x, sr = read_wav(tmp_path / "a.wav", sample_rate=8000)
    assert sr == 8000 and x.min() >= -1 and x.max() < 1
    write_wav(tmp_path / "b.wav", x, sr)
    assert np.array_equal(wavfile.read(tmp_path / "b.wav")[1], raw)


@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_other_sample_types(tmp_path, dtype):
    x = np.sin(np.linspace(0, 20, 1000)) * 0.5
    write_wav(tmp_path / "c.wav", x, 16000, dtype=dtype)
    y, sr = read_wav(tmp_path / "c.wav")
    assert sr == 16000 and np.max(np.abs(y - x)) < 1e-6


def test_channels_and_errors(tmp_path):
    stereo = np.stack([np.full(100, 1000), np.full(100, -3000)], 1).astype(np.int16)
    wavfile.write(tmp_path / "s.wav", 8000, stereo)
    assert np.allclose(read_wav(tmp_path / "s.wav", channel=1)[0], -3000 / 32768)
    assert np.allclose(read_wav(tmp_path / "s.wav")[0], -1000 / 32768)
    with pytest.raises(ValueError, match="channels"):
        read_wav(tmp_path / "s.wav", channel=2)
    with pytest.raises(ValueError, match="16000 Hz is expected"):
        read_wav(tmp_path / "s.wav", sample_rate=16000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(ValueError, match="not a readable wav"):
        read_wav(tmp_path / "junk.wav")
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]), 8000)


def test_sample_rate_must_be_a_positive_whole_number(tmp_path):
    write_wav(tmp_path / "w.wav", np.zeros(10), 8000.0)            # a whole float is fine
    assert read_wav(tmp_path / "w.wav")[1] == 8000
    for rate in (8000.7, 0, -8000, True, np.nan, "8000"):
        with pytest.raises(ValueError, match="sample_rate must be a positive whole number"):
            write_wav(tmp_path / "w.wav", np.zeros(10), rate)
    with pytest.raises(ValueError, match="orig_rate"):
        resample(np.zeros(10), 8000.5, 16000)


def test_log_mel_frames_and_filterbank():
    sr = 8000
    t = np.arange(sr) / sr
    x = np.sin(2 * np.pi * 1000 * t)
    feats = log_mel(x, sr, n_fft=256, hop_length=64, n_mels=40)
    assert feats.shape == (1 + (sr - 256) // 64, 40)
    fb = mel_filterbank(sr, 256, 40)
    peak_band = np.argmax(fb[:, round(1000 / (sr / 256))])
    assert np.all(np.argmax(feats, axis=1) == peak_band)      # energy sits in the 1 kHz band


def test_resample_exact_ratio():
    x = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    y = resample(x, 16000, 8000)
    assert len(y) == 8000
    ref = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    assert np.max(np.abs(y[100:-100] - ref[100:-100])) < 1e-2
