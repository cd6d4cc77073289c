"""Spoken digits with WaveNet: generate digits on demand and vocode held-out clips.

Trains two small ``WaveNetDensity`` models on the Free Spoken Digit Dataset (8 kHz, 8-bit
mu-law audio, a 256-way categorical per sample):

* a **digit-conditioned** model (``fit(X, y=digits)``, global conditioning), sampled once per
  digit: ``digit_<d>.wav``;
* a **vocoder** (``fit(X, covariates=log_mel_frames)``, local conditioning): held-out clips
  (takes 0-4 are the official test set) are regenerated from their log-mel spectrograms:
  ``original_<clip>.wav`` next to ``vocoded_<clip>.wav``;

and draws ``digits.png`` and ``vocoded.png`` (waveforms and log-mel spectrograms). Everything
goes to ``--out`` (default: a fresh temporary folder, printed at the end). The defaults train
for a few minutes on one CPU core; small models trained this briefly produce noisy,
speech-like audio, not clean digits: raise ``--train-clips``, ``--epochs`` and the model size
(``--layers``, ``--channels``) for better audio.

Run from the repository root::

    python -m examples.fsdd
    python -m examples.fsdd --out /tmp/fsdd_demo --train-clips 300 --epochs 8
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from tsargen import WaveNetDensity
from tsargen.audio import log_mel, mu_law_decode, mu_law_encode, read_wav, write_wav

SR, N_FFT, HOP, N_MELS = 8000, 256, 64, 40
DEFAULT_DATA = Path(os.environ.get("TSARGEN_DATA", Path(__file__).resolve().parents[2]
                                   / "shared" / "data")) / "audio" / "fsdd"


def mels(x):
    """Log-mel frames that cover every sample (``center=True``): the vocoder's input."""
    return log_mel(x, SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, center=True)


def load(folder, n_train, n_vocode, seed):
    """Training clips (takes 5-49, balanced over digits) and held-out clips (takes 0-4)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for f in sorted(Path(folder).glob("*.wav")):
        digit, _, take = f.stem.split("_")
        (test if int(take) <= 4 else train).append((f, int(digit)))
    if not train:
        raise SystemExit(f"no FSDD wav files in {folder}; pass --data-dir")
    per_digit = max(1, n_train // 10)
    chosen = []
    for d in range(10):
        pool = [item for item in train if item[1] == d]
        chosen += [pool[i] for i in rng.choice(len(pool), min(per_digit, len(pool)),
                                               replace=False)]
    held = [test[i] for i in rng.choice(len(test), n_vocode, replace=False)]
    read = lambda items: [read_wav(f, sample_rate=SR)[0] for f, _ in items]
    return (read(chosen), np.array([d for _, d in chosen]), read(held),
            [f.stem for f, _ in held])


def picture(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 1.6 * len(rows) + 0.6), squeeze=False)
    for (name, w), (ax_w, ax_s) in zip(rows, axes):
        t = np.arange(len(w)) / SR
        ax_w.plot(t, w, lw=0.4)
        ax_w.set_ylim(-1, 1)
        ax_w.set_ylabel(name, fontsize=8)
        ax_s.imshow(mels(w).T, origin="lower", aspect="auto", cmap="magma", vmin=-12, vmax=4,
                    extent=(0, len(w) / SR, 0, N_MELS))
    axes[-1, 0].set_xlabel("seconds")
    axes[-1, 1].set_xlabel("seconds (log-mel)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA), help="folder of FSDD wavs")
    parser.add_argument("--out", default=None, help="output folder (default: a new temp dir)")
    parser.add_argument("--train-clips", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=8, help="layers (dilations 1..2^(n-1))")
    parser.add_argument("--channels", type=int, default=24, help="residual channels")
    parser.add_argument("--vocode", type=int, default=3, help="held-out clips to vocode")
    parser.add_argument("--seconds", type=float, default=0.6, help="length of each digit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tsargen_fsdd_"))
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    def say(msg):
        print(f"[{time.perf_counter() - start:5.0f}s] {msg}", flush=True)

    waves, digits, held, names = load(args.data_dir, args.train_clips, args.vocode, args.seed)
    levels = [mu_law_encode(w) for w in waves]               # 8-bit mu-law levels 0..255
    model = dict(n_layers=args.layers, residual_channels=args.channels,
                 skip_channels=2 * args.channels, distribution="categorical",
                 quantization="levels", n_bins=256, max_epochs=args.epochs, batch_size=16,
                 lr=2e-3, patience=2, random_state=args.seed)
    say(f"{len(waves)} training clips ({sum(map(len, waves)) / SR:.0f} s of speech)")

    speaker = WaveNetDensity(**model).fit(levels, y=digits)
    say(f"digit-conditioned model fitted (receptive field {speaker.receptive_field_} samples)")
    n = int(args.seconds * SR)
    generated = speaker.sample(10, y=np.arange(10), length=n, random_state=args.seed)
    generated = mu_law_decode(generated.astype(int))        # levels -> floats in [-1, 1]
    for d, w in enumerate(generated):
        write_wav(out / f"digit_{d}.wav", w, SR)
    picture([(f"digit {d}", w) for d, w in enumerate(generated)], out / "digits.png",
            "WaveNet samples conditioned on the digit")
    say("wrote digit_0.wav .. digit_9.wav and digits.png")

    vocoder = WaveNetDensity(**model, cond_hop=HOP).fit(levels,
                                                       covariates=[mels(w) for w in waves])
    say("vocoder fitted")
    rows = []
    for name, w in zip(names, held):
        lv = vocoder.sample(1, length=len(w), covariates=[mels(w)], random_state=args.seed)
        voc = mu_law_decode(lv[0].astype(int))
        write_wav(out / f"original_{name}.wav", w, SR)
        write_wav(out / f"vocoded_{name}.wav", voc, SR)
        rows += [(f"{name}\noriginal", w), ("vocoded", voc)]
    picture(rows, out / "vocoded.png", "Held-out clips and their WaveNet vocoding from log-mel")
    say(f"wrote original_/vocoded_*.wav and vocoded.png; all outputs in {out}")
    return out


if __name__ == "__main__":
    main()
