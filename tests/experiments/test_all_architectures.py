"""The "all architectures" preset: one variation per architecture that fits the setup's N and K
(its preset's network, or the defaults where that does not fit), scaled down it still runs, and a
walk-forward trial records the backtest's pooled numbers."""
from __future__ import annotations

import json
import math

import pytest

from pricecast.backtest.spec import plan_folds
from pricecast.experiments.architectures import all_architectures, arch_model
from pricecast.experiments.presets import build_experiment, experiment_presets, scale
from pricecast.experiments.spec import ExperimentError, apply_overrides, expand, validate
from pricecast.models.checks import check_model
from pricecast.models.registry import ARCHITECTURES
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.presets import get_preset
from pricecast.service.trials import backtest_of
from pricecast.specs import RunSpec, TrainSpec


def _checked(exp) -> list[RunSpec]:
    specs = [apply_overrides(exp.base, v.overrides) for v in exp.variations]
    for spec in specs:
        w = spec.window
        check_model(spec.model, w.n, w.k, w.features, w.target)
    return specs


@pytest.mark.parametrize("n, k", [(30, 5), (96, 6), (6, 2), (12, 3)])
def test_one_variation_per_architecture_that_fits_the_window(n, k):
    base = get_preset("default").spec.replace(window=WindowSpec(n=n, k=k))
    exp = all_architectures(base)
    specs = _checked(exp)
    assert [s.model.arch for s in specs] == list(ARCHITECTURES) == [v.id for v in exp.variations]
    assert all(s.model.residual for s in specs)  # the persistence floor applies to every one
    assert all(s.window == base.window and s.scaling == base.scaling and s.train == base.train for s in specs)
    assert exp.folds > 0 and exp.repeats >= 3


def test_a_preset_network_is_reused_where_it_fits_and_the_fallback_is_named():
    wide = get_preset("default").spec.replace(window=WindowSpec(n=96, k=6))
    by_id = {v.id: v for v in all_architectures(wide).variations}
    assert by_id["transformer"].overrides == {**get_preset("transformer-btc-hourly").spec.model.to_dict(),
                                              "residual": True}
    assert by_id["transformer"].label == "Transformer · preset transformer-btc-hourly"
    assert by_id["gru"].overrides == get_preset("default").spec.model.to_dict()
    # N=6: the Transformer preset's patches of 8 do not fit; the defaults (patch N // 8) do
    model, label = arch_model("transformer", WindowSpec(n=6, k=2))
    assert model == ModelSpec(arch="transformer", residual=True)
    assert label == "Transformer · default settings (transformer-btc-hourly does not fit N=6, K=2)"
    with pytest.raises(ExperimentError, match="TCN cannot run on N=2"):
        arch_model("tcn", WindowSpec(n=2, k=2))


def test_residual_output_needs_the_target_among_the_inputs():
    model, label = arch_model("gru", WindowSpec(n=30, k=5, features=("volume",), target="close"))
    assert not model.residual and label == "GRU · preset default (residual off: 'close' is not an input)"
    check_model(model, 30, 5, ("volume",), "close")


def test_scaled_down_it_still_runs_every_fold_of_every_architecture():
    base = get_preset("default").spec.replace(window=WindowSpec(n=12, k=3))
    exp = scale(all_architectures(base), 0.02, rows_available=3270)
    validate(exp)
    assert exp.repeats == 2 and exp.base.train.epochs == 1 and exp.last_rows and exp.last_rows < 3270
    for trial in expand(exp):
        plans = plan_folds(exp.last_rows, backtest_of(trial.spec, trial.folds, exp.last_rows), 12, 3)
        assert len(plans) == exp.folds


def test_the_cli_builds_it_on_the_base_preset_with_the_setup_options(tmp_path, capsys):
    from pricecast.cli.main import main

    assert main(["experiment", "presets", "--json"]) == 0
    presets = {p["name"]: p for p in json.loads(capsys.readouterr().out)["presets"]}
    assert presets["all-architectures"]["variation_ids"] == list(ARCHITECTURES)

    from pricecast.cli.experiment import _experiment_from_args
    from pricecast.cli.main import build_parser

    args = build_parser().parse_args(["experiment", "run", "--preset", "all-architectures", "--n", "6", "--k", "2",
                                      "--folds", "2", "--root", str(tmp_path)])
    exp = _experiment_from_args(args)
    assert exp.base.window.n == 6 and exp.folds == 2 and exp.preset == "all-architectures"
    labels = {v.id: v.label for v in exp.variations}
    assert "default settings" in labels["transformer"]
    _checked(exp)
    assert set(experiment_presets()) >= {"all-architectures", "architectures", "bias-regularizers"}


@pytest.mark.slow
def test_a_tiny_run_ranks_against_persistence_and_records_the_pooled_backtest(tmp_path):
    from pricecast.backtest.walkforward import run_backtest
    from pricecast.experiments.candles import load_candles
    from pricecast.experiments.stats import comparison_table
    from pricecast.service.experiments import run_experiment

    base = RunSpec(data="sample:AAPL", window=WindowSpec(n=10, k=2), scaling="logratio",
                   train=TrainSpec(epochs=2, batch_size=64, patience=0))
    exp = build_experiment("all-architectures", base=base, name="all-arch-tiny")
    exp = exp.replace(variations=tuple(v for v in exp.variations if v.id in ("dlinear", "mlp")), repeats=2,
                      folds=2, last_rows=260)
    done = run_experiment(exp, executor="serial", root=tmp_path)
    assert done.done == 4
    table = comparison_table(done.summary())
    assert "Persistence (no change)" in set(table["Setting"])
    assert "Networks' RMSE / persistence, best first:" in done.note()
    record = next(r for r in done.records if r["variation"] == "dlinear" and r["repeat"] == 1)
    assert record["folds"] == 2 and math.isfinite(record["paired_p"])

    # the same trial walked forward again: the backtest's own pooling over its folds
    trial = next(t for t in expand(exp) if t.key == record["key"])
    candles = load_candles(exp)
    result = run_backtest(trial.spec, backtest_of(trial.spec, 2, len(candles)), candles=candles, use_cache=False)
    assert record["persistence_rmse"] == pytest.approx(result.overall["persistence"]["rmse"], rel=1e-9)
    # the backtest scores the folds' networks; the trial records them and, apart, what its folds' runs use
    assert record["network_rmse"] == pytest.approx(result.overall["model"]["rmse"], rel=1e-6)
    assert record["decision"] in ("network", "persistence") and 0 <= record["as_persistence"] <= 1
    assert record["forecasts"] == result.overall["windows"]


def test_the_experiments_page_offers_it_on_the_current_setup_at_a_small_size():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "6_Experiments.py"),
                           default_timeout=60)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.radio(key="exp_mode").value == "all-architectures"
    setup = get_preset("default").spec  # a fresh session's setup
    assert any(f"Your setup: N={setup.window.n}, K={setup.window.k}" in c.value for c in at.caption)
    n = len(ARCHITECTURES)
    assert any(f"**{n} settings × 2 repeats = {2 * n} trainings** of 2 epochs each, each walked forward over 3 "
               "test folds" in m.value for m in at.markdown), [m.value for m in at.markdown]


def test_the_spread_of_rmse_over_persistence_has_persistence_at_1():
    from pricecast.experiments.stats import summarize, trials_frame
    from pricecast.plots.experiments import spread_figure

    from .conftest import trial_records

    frame = trials_frame(trial_records({"a": [3.0, 3.1], "b": [1.0, 1.2]}))
    order = summarize(frame)["label"].tolist()  # ranking order, best first
    fig = spread_figure(frame, "ratio", order)
    dots = [t for t in fig.data if t.meta == "trials"]
    assert [t.name for t in dots] == ["B", "A"]
    assert list(dots[0].y) == pytest.approx([1.0 / 2.5, 1.2 / 2.5])
    median = next(t for t in fig.data if t.meta == "median")
    assert list(median.y) == pytest.approx([1.1 / 2.5] * 2)
    assert list(fig.layout.xaxis.ticktext) == ["B", "A"]
    line = fig.layout.shapes[0]
    assert (line.y0, line.y1) == (1.0, 1.0) and fig.layout.annotations[0].text == "persistence"
    label = fig.layout.annotations[0]  # in the right margin, never on a setting's dots
    assert (label.xref, label.x, label.xanchor, label.y) == ("paper", 1.0, "left", 1.0)
