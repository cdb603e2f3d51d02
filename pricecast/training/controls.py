"""Look-ahead control (c) of :mod:`pricecast.evaluation.leakage`, the one that trains: the
"shuffled time" control fits the model twice, once with the targets shuffled across time, and is
opt-in (``backtest --shuffled-control``, the Results page's checkbox).

It lives with training, not with the cheap checks, because it fits models (through
:func:`~pricecast.training.fitting.fit`, like every training here); the checks themselves train nothing.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pricecast.evaluation.leakage import Finding, paired_test
from pricecast.prep.windows import WindowPart
from pricecast.specs import RunSpec
from pricecast.training.fitting import fit, predict
from pricecast.training.pipeline import prepare
from pricecast.training.types import Prepared


def shuffled_time_control(spec: RunSpec, candles: pd.DataFrame | None = None, prepared: Prepared | None = None,
                          epochs: int | None = None, seed: int = 0) -> Finding:
    """Train ``spec`` twice for the same epochs — once on the real windows, once with the targets
    shuffled across time (each window's inputs paired with another window's future, so the
    input→target link is broken) — and score both on the real test part. The real order must score
    clearly better; if it doesn't, the model's accuracy does not come from learning how prices
    follow each other (and if the shuffled model wins, something else — a leak — is at work)."""
    prep = prepared or prepare(spec, candles)
    wset, scaler = prep.windows, prep.scaler
    epochs = int(epochs or spec.train.epochs)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(wset.train))
    tr = wset.train
    shuffled = WindowPart("train", tr.x, np.asarray(tr.y)[perm], np.asarray(tr.history)[perm], tr.origin, tr.rows)
    test = wset.test
    real = fit(spec, tr, wset.val, scaler, epochs=epochs)
    real.raise_if_diverged(spec, "shuffled-time control, model in real order: ")
    shuf = fit(spec, shuffled, wset.val, scaler, epochs=epochs)
    shuf.raise_if_diverged(spec, "shuffled-time control, model on shuffled targets: ")
    actual = np.asarray(test.y)
    err_real = ((predict(real.model, test, scaler) - actual) ** 2).mean(axis=1)
    err_shuf = ((predict(shuf.model, test, scaler) - actual) ** 2).mean(axis=1)
    rmse_real, rmse_shuf = math.sqrt(err_real.mean()), math.sqrt(err_shuf.mean())
    t, p = paired_test(err_shuf - err_real, lag=max(spec.window.k - 1, 1))
    details = {"rmse_real": rmse_real, "rmse_shuffled": rmse_shuf, "t": t, "p_value": p, "epochs": epochs}
    if np.isfinite(t) and t > 2:
        return Finding("ok", "shuffled_time",
                       f"Shuffled-time control passed: trained on time-shuffled targets the model scores RMSE "
                       f"{rmse_shuf:.4g}, worse than {rmse_real:.4g} in real order (p = {p:.3f}).", details)
    if np.isfinite(t) and t < -2:
        return Finding("warning", "shuffled_time",
                       f"Shuffled-time control failed: the model trained on time-shuffled targets scores BETTER "
                       f"(RMSE {rmse_shuf:.4g}) than the one trained in real order ({rmse_real:.4g}). Its accuracy "
                       f"does not come from how prices follow each other — look for a leak or a broken setup.", details)
    return Finding("warning", "shuffled_time",
                   f"Shuffled-time control: the model trained on time-shuffled targets scores about the same "
                   f"(RMSE {rmse_shuf:.4g} vs {rmse_real:.4g} in real order, p = {p:.2f}): the real order taught it "
                   f"nothing measurable — its forecasts come mostly from the last price.", details)
