"""Helpers shared by the experiment tests: a tiny experiment (seconds per trial) and trial records
with known numbers."""
from __future__ import annotations

from pricecast.experiments.spec import ExperimentSpec, Variation, grid
from pricecast.experiments.storage import Experiment
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec

METRICS = ("test_rmse", "persistence_rmse", "skill", "best_val_loss", "val_rmse", "epochs_run")


def tiny(name: str, variations: tuple[Variation, ...] | None = None, repeats: int = 2) -> ExperimentSpec:
    """2 settings x 2 repeats x 1 epoch of a 4-unit GRU on the last 240 AAPL days: seconds per trial."""
    base = RunSpec(data="sample:AAPL", window=WindowSpec(n=10, k=2), scaling="logratio",
                   model=ModelSpec(arch="gru", units=(4,)), train=TrainSpec(epochs=1, batch_size=64, patience=0))
    return ExperimentSpec(name=name, base=base, variations=variations or grid(units=[(4,), (6,)]),
                          repeats=repeats, base_seed=7, last_rows=240)


def by_key(exp: Experiment) -> dict[str, dict]:
    return {r["key"]: r for r in exp.records}


def trial_records(values: dict[str, list[float]]) -> list[dict]:
    """Finished trial records: per variation id, one test RMSE per repeat."""
    out = []
    for vid, xs in values.items():
        for i, x in enumerate(xs):
            out.append({"key": f"{vid}#r{i}", "variation": vid, "label": vid.upper(), "repeat": i, "seed": i,
                        "status": "ok", "test_rmse": x, "persistence_rmse": 2.5, "skill": 1 - x / 2.5,
                        "best_val_loss": x / 10, "train_seconds": 1.0 + i, "seconds_per_epoch": 0.5, "params": 10})
    return out
