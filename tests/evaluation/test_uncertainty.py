"""Conformal and MC-dropout intervals, coverage, residual diagnostics and recursive forecasts."""
from __future__ import annotations

import numpy as np
import pytest

from pricecast.evaluation.diagnostics import autocorrelation, diagnose, histogram
from pricecast.evaluation.recursive import recursive_forecast, recursive_problem
from pricecast.evaluation.uncertainty import (
    conformal_band,
    conformal_quantiles,
    coverage,
    coverage_text,
    has_dropout,
    sample_band,
)
from pricecast.models.spec import ModelSpec
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowPart, WindowSpec


def test_conformal_bands_cover_about_their_level_on_fresh_errors():
    rng = np.random.default_rng(0)
    m, k = 2000, 3
    scale = np.array([1.0, 2.0, 3.0])  # errors grow with the horizon: so must the band
    last = np.full(m, 100.0)
    calib_pred = np.zeros((m, k)) + 100
    calib_actual = calib_pred + rng.normal(0, 1, (m, k)) * scale
    qs = conformal_quantiles(calib_actual, calib_pred, last, (0.8, 0.95), relative=False)
    assert np.all(np.diff(qs[0.8]) > 0) and np.all(qs[0.95] > qs[0.8])
    test_pred = np.zeros((m, k)) + 100
    test_actual = test_pred + rng.normal(0, 1, (m, k)) * scale
    for level in (0.8, 0.95):
        lo, hi = conformal_band(test_pred, last, qs[level], relative=False)
        c = coverage(test_actual, lo, hi)
        assert c["coverage"] == pytest.approx(level, abs=0.03)
        assert len(c["per_step"]) == k and c["points"] == m * k


def test_relative_bands_scale_with_the_last_price():
    actual = np.array([[101.0], [99.0], [102.0]])
    pred = np.full((3, 1), 100.0)
    last = np.full(3, 100.0)
    q = conformal_quantiles(actual, pred, last, (0.5,), relative=True)[0.5]
    lo, hi = conformal_band(np.array([[1000.0]]), np.array([1000.0]), q, relative=True)
    assert (hi - lo)[0, 0] == pytest.approx(2 * 1000 * q[0])


def test_coverage_text_reads_like_a_sentence():
    assert coverage_text(0.8, 0.77) == "80% band covered 77% of test points"
    assert coverage_text(0.95, 0.9, "conformal") == "95% conformal band covered 90% of test points"


def test_sample_band_and_dropout_detection():
    draws = np.random.default_rng(0).normal(size=(4000, 2, 1))
    lo, hi = sample_band(draws, 0.9)
    assert lo[0, 0] == pytest.approx(-1.645, abs=0.1) and hi[0, 0] == pytest.approx(1.645, abs=0.1)
    assert has_dropout(ModelSpec(dropout=0.2)) and not has_dropout(ModelSpec(dropout=0.0))


def test_mc_dropout_varies_forecasts_and_leaves_batchnorm_alone():
    import keras

    from pricecast.evaluation.uncertainty import mc_dropout_samples
    from pricecast.models.builders import build_model

    model = build_model(ModelSpec(arch="mlp", units=(16,), dropout=0.5, batch_norm=True, residual=False), 8, 2, ("close",))
    bn = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)][0]
    before = [np.array(w) for w in bn.get_weights()]
    x = np.random.default_rng(0).normal(size=(5, 8, 1)).astype("float32")
    samples = mc_dropout_samples(model, x, 20, seed=1)
    assert samples.shape == (20, 5, 2) and samples.std(axis=0).mean() > 0
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert bn.trainable  # restored


def test_residual_diagnostics_flag_autocorrelation():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=1000)
    white = autocorrelation(noise, 20)
    assert len(white["acf"]) == 20 and white["bound"] == pytest.approx(1.96 / np.sqrt(1000))
    assert len(white["outside"]) <= 3
    ar = np.zeros(1000)
    for i in range(1, 1000):
        ar[i] = 0.8 * ar[i - 1] + noise[i]
    assert 1 in autocorrelation(ar, 20)["outside"]
    h = histogram(noise, bins=30)
    assert sum(h["counts"]) == 1000 and len(h["edges"]) == 31 and abs(h["mean"]) < 0.1
    d = diagnose(ar[:, None] + 1, np.ones((1000, 1)))
    assert "exceed" in d["text"]


def test_recursive_forecast_feeds_its_own_predictions_back():
    _n, k, m = 4, 3, 2
    hist = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 10.0, 10.0]])
    part = WindowPart("test", hist[:, :, None], np.zeros((m, k)), hist, np.array([3, 3]), (0, 8))
    scaler = Scaler.fit("logratio", hist.T[:, :1], hist[0], ("close",), "close", (0, 4))
    # A fake one-step model: always "up 10%" in log-ratio space.
    out = recursive_forecast(lambda x: np.full((len(x), 1), np.log(1.1)), part, scaler, k)
    np.testing.assert_allclose(out[0], 4.0 * 1.1 ** np.arange(1, k + 1))
    np.testing.assert_allclose(out[1], 10.0 * 1.1 ** np.arange(1, k + 1))
    assert recursive_problem(WindowSpec(features=("close",))) is None
    assert "only input feature" in recursive_problem(WindowSpec(features=("open", "close")))
