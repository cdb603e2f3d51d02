"""Use a saved run on new data: the next K steps, and its error on every window of that data."""
from __future__ import annotations

import pandas as pd

from pricecast.evaluation.baselines import evaluate_parts
from pricecast.prep.windows import WindowSpec, make_windows
from pricecast.training.fitting import predict
from pricecast.training.pipeline import forecast_next
from pricecast.training.types import Run


def predict_with_run(run: Run, candles: pd.DataFrame) -> dict:
    """``{"forecast": DataFrame, "evaluation": dict | None}``. The run's scaler (fitted on its own
    training part) is reused as is; nothing is refitted on the new data."""
    model = run.load_model()
    forecast = forecast_next(model, candles, run.spec, run.scaler)
    spec = run.spec.window
    whole = WindowSpec(n=spec.n, k=spec.k, stride=spec.stride, features=spec.features, target=spec.target,
                       split=(1.0, 0.0, 0.0))
    evaluation = None
    if len(candles) >= spec.n + spec.k:
        wset = make_windows(candles, whole, require=("train",))
        # the run's own best naive baseline (chosen on its validation part), not one chosen on this data
        best = (run.metrics.get("test") or {}).get("best_naive", "persistence")
        reports, _ = evaluate_parts(wset, {"train": predict(model, wset.train, run.scaler)}, best)
        evaluation = reports["train"]
    return {"forecast": forecast, "evaluation": evaluation}
