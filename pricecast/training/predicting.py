"""Use a saved run on new data: the next K steps, and its error on every window of that data."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pricecast.evaluation.baselines import part_forecasts
from pricecast.evaluation.decision import decision_of, scored
from pricecast.evaluation.metrics import evaluate, with_best_naive
from pricecast.prep.windows import WindowSpec, make_windows
from pricecast.training.fitting import predict
from pricecast.training.pipeline import forecast_next
from pricecast.training.types import Run


def forecast_with_run(run: Run, candles: pd.DataFrame) -> pd.DataFrame:
    """The next K steps from the latest candles as the run forecasts them: its decision's forecast
    (``predicted``: the network's, or the fallback's), the network's own beside it."""
    return forecast_next(run.load_model(), candles, run.spec, run.scaler, decision_of(run.metrics))


def predict_with_run(run: Run, candles: pd.DataFrame) -> dict:
    """``{"forecast": DataFrame, "evaluation": dict | None}``. The run's scaler (fitted on its own
    training part) is reused as is; nothing is refitted on the new data. The run's decision (made on
    its own validation part) stands: a run that fell back forecasts its baseline here too."""
    model = run.load_model()
    decision = decision_of(run.metrics)  # None for older run folders: their model is what they used
    forecast = forecast_with_run(run, candles)
    spec = run.spec.window
    whole = WindowSpec(n=spec.n, k=spec.k, stride=spec.stride, features=spec.features, target=spec.target,
                       split=(1.0, 0.0, 0.0))
    evaluation = None
    if len(candles) >= spec.n + spec.k:
        wset = make_windows(candles, whole, require=("train",))
        part = wset.train
        predicted = predict(model, part, run.scaler)
        naive = part_forecasts(spec.target, wset.times, wset.target, part)
        evaluation = (evaluate(np.asarray(part.y), predicted, np.asarray(part.history), naive) if decision is None
                      else scored(part.y, predicted, part.history, decision, naive))
        # the run's own best naive baseline (chosen on its validation part), not one chosen on this data
        with_best_naive(evaluation, (run.metrics.get("test") or {}).get("best_naive", "persistence"))
    return {"forecast": forecast, "evaluation": evaluation}
