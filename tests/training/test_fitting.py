"""The one training loop (``fitting.fit``) and the one prediction of a part (``fitting.predict``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.pipeline import prepare

from ..conftest import make_candles

SPEC = RunSpec(data="unused", window=WindowSpec(n=10, k=3, features=("close",)), scaling="minmax",
               model=ModelSpec(arch="mlp", units=(8,), dropout=0.2, residual=True),
               train=TrainSpec(epochs=2, batch_size=32, patience=0, seed=5))


def test_the_library_has_one_keras_training_loop():
    """One ``model.fit`` call in the library's code (the exported standalone script's text, a string, trains
    outside pricecast and does not count)."""
    import ast

    package = Path(__file__).resolve().parents[2] / "pricecast"
    calls = {str(p.relative_to(package)): sum(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fit"
        and ast.unparse(node.func.value) == "model" for node in ast.walk(ast.parse(p.read_text())))
        for p in package.rglob("*.py")}
    assert {name: n for name, n in calls.items() if n} == {"training/fitting.py": 1}


def test_fit_reports_its_epochs_and_predict_agrees_whichever_way_it_runs(monkeypatch):
    from pricecast.training import fitting

    prep = prepare(SPEC, make_candles(300))
    epochs: list[int] = []
    result = fitting.fit(SPEC, prep.windows.train, prep.windows.val, prep.scaler, on_epoch=lambda e, logs: epochs.append(e))
    assert epochs == [1, 2] and list(result.history["epoch"]) == [1, 2] and result.epochs_run == 2
    assert len(result.epoch_seconds) == 2 and result.learning_rate == pytest.approx(SPEC.model.learning_rate)
    parts = [prep.windows.val, prep.windows.test]
    together = fitting.predict(result.model, parts, prep.scaler)
    alone = fitting.predict(result.model, prep.windows.test, prep.scaler)
    np.testing.assert_allclose(together["test"], alone)
    monkeypatch.setattr(fitting, "DIRECT_CALL_LIMIT", 0)  # big parts go through model.predict
    np.testing.assert_allclose(fitting.predict(result.model, prep.windows.test, prep.scaler), alone, rtol=1e-5)


def test_a_shuffled_run_sees_its_windows_in_a_new_order_every_epoch(monkeypatch):
    """Keras's shuffle of arrays on TensorFlow, under the fixed seed a run sets, repeats one permutation
    every epoch; a run must reshuffle each epoch (as on JAX and in trials trained together)."""
    from dataclasses import replace

    from pricecast.training import feeding, fitting

    spec = SPEC.replace(train=replace(SPEC.train, epochs=3, shuffle=True))
    prep = prepare(spec, make_candles(300))
    firsts: list[list[int]] = []
    real_fit = None

    def spying_fit(model, **kwargs):
        data = kwargs["x"]
        if isinstance(data, feeding.WindowBatches):  # the order each epoch starts with
            real_end = data.on_epoch_end
            firsts.append(data.batches.batch(0, data.batch_size).tolist())

            def end() -> None:
                real_end()
                firsts.append(data.batches.batch(0, data.batch_size).tolist())
            data.on_epoch_end = end
        else:  # arrays: Keras shuffles them (per epoch on JAX and torch, from NumPy's global generator)
            assert fitting.backend_name() != "tensorflow", "arrays shuffled by Keras on TensorFlow"
        return real_fit(model, **kwargs)

    keras = fitting.load_keras()
    real_fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", spying_fit)
    result = fitting.fit(spec, prep.windows.train, prep.windows.val, prep.scaler)
    assert result.epochs_run == 3
    if fitting.backend_name() == "tensorflow":
        assert len({tuple(f) for f in firsts[:3]}) == 3  # three epochs, three orders
