"""Benchmark 6 — the seed presets on the bundled 5-minute BTC: pricecast's pipeline vs the tutorial's own.

    python bench/seed_vs_tutorial.py                 # seed-lstm and seed-cnn-2-relu, 10 epochs, 3 seeds
    python bench/seed_vs_tutorial.py --epochs 100 --seeds 5

Every side trains the same network (the preset's ModelSpec: LSTM(50) tanh + Dropout(0.8) + Dense(16) +
LeakyReLU; the 2-layer ReLU CNN), batch 8, no early stopping, on the bundled clean stretch of Bitstamp
5-minute BTC/USD (sample:BTC-USD-5M, 7,621 candles), N=256 past, K=16 future.

- pricecast: ``train(preset)``: split by time 80/10/10 first, then a window every 16 candles within
  each part, MinMax fitted on the training rows only; scored on the newest 10% of candles.
- tutorial, same windows: MinMax fitted on the whole series (it sees the test prices' range), the
  seed's PastSampler(256, 16) over the whole series keeping every 16th window, the first 80% of
  windows train and the last 20% are its "validation", scored here as its test.
- tutorial, verbatim: the same with the seed's own non-overlapping windows
  (``PastSampler(256, 16, sliding_window=False)``): 28 windows in all, 6 scored.

Each side reports test RMSE in price units divided by the persistence forecast's RMSE (the last
known price repeated K times) on the same windows: below 1 beats "no change".
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import logging
import warnings

warnings.filterwarnings("ignore", category=UserWarning)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
import numpy as np  # noqa: E402
from _common import PastSampler, Timer, median, save_results, table  # noqa: E402

PRESETS = ("seed-lstm", "seed-cnn-2-relu")


def pricecast_ratio(name: str, epochs: int, seed: int, tmp: Path) -> tuple[float, int]:
    from pricecast.presets import get_preset
    from pricecast.specs import TrainSpec
    from pricecast.training.pipeline import train

    spec = get_preset(name).spec
    spec = spec.replace(train=TrainSpec(epochs=epochs, batch_size=8, patience=0, seed=seed))
    run = train(spec, runs_root=tmp)
    test = run.metrics["test"]
    return test["rmse"] / test["persistence_rmse"], test["windows"]


def tutorial_ratio(name: str, epochs: int, seed: int, verbatim: bool) -> tuple[float, int]:
    """Tutorial 000's pipeline: whole-series MinMax, PastSampler, 80/20 by windows; ``verbatim``: its
    non-overlapping windows, else every ``stride``-th window (the preset's)."""
    import keras

    from pricecast.data.samples import load_sample
    from pricecast.models.builders import build_model
    from pricecast.presets import get_preset
    from pricecast.training.backend import set_seed

    spec = get_preset(name).spec
    n, k = spec.window.n, spec.window.k
    close = load_sample("BTC-USD-5M")["close"].to_numpy(dtype=np.float64).reshape(-1, 1)
    lo, hi = close.min(), close.max()  # MinMaxScaler().fit_transform on the whole series: the leak
    scaled = (close - lo) / (hi - lo)
    x, y = PastSampler(n, k, sliding_window=not verbatim).transform(scaled.reshape(-1, 1, 1))
    if not verbatim:
        x, y = x[:: spec.window.stride], y[:: spec.window.stride]
    x, y = x.reshape(len(x), n, 1), y.reshape(len(y), k)
    training_size = int(0.8 * x.shape[0])
    set_seed(seed)
    model = build_model(spec.model, n, k, ("close",), "close")
    model.fit(x[:training_size], y[:training_size], batch_size=8, epochs=epochs, verbose=0, shuffle=True)
    pred = np.asarray(model.predict(x[training_size:], verbose=0)).reshape(-1, k) * (hi - lo) + lo
    actual = y[training_size:] * (hi - lo) + lo
    last = x[training_size:, -1, 0:1] * (hi - lo) + lo
    rmse = float(np.sqrt(np.mean((pred - actual) ** 2)))
    persistence = float(np.sqrt(np.mean((last - actual) ** 2)))
    keras.backend.clear_session()
    return rmse / persistence, len(actual)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in PRESETS:
            for pipeline in ("pricecast", "tutorial, same windows", "tutorial, verbatim"):
                ratios, windows = [], 0
                with Timer() as timer:
                    for seed in range(1, args.seeds + 1):
                        if pipeline == "pricecast":
                            ratio, windows = pricecast_ratio(name, args.epochs, seed, Path(tmp))
                        else:
                            ratio, windows = tutorial_ratio(name, args.epochs, seed, pipeline.endswith("verbatim"))
                        ratios.append(ratio)
                rows.append({"preset": name, "pipeline": pipeline, "test_windows": windows,
                             "median_ratio": median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios),
                             "seconds": timer.seconds})
                print(f"{name} {pipeline}: RMSE / persistence {', '.join(f'{r:.3f}' for r in ratios)}", flush=True)
    columns = ["preset", "pipeline", "test_windows", "median_ratio", "min_ratio", "max_ratio", "seconds"]
    print(table(rows, columns))
    path = save_results("seed_vs_tutorial", {"epochs": args.epochs, "seeds": args.seeds, "data": "sample:BTC-USD-5M",
                                             "rows": rows})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
