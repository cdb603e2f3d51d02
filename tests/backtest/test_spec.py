"""Walk-forward fold layout: where the folds fall, and the settings that cannot work (no Keras)."""
from __future__ import annotations

import pytest

from pricecast.backtest.spec import BacktestError, BacktestSpec, plan_folds

BT = BacktestSpec(folds=3, fold_size=40, epochs=1)


def test_expanding_folds_tile_the_end_of_the_series_and_never_look_ahead():
    plans = plan_folds(400, BT, 10, 3)
    assert [p.test for p in plans] == [(280, 320), (320, 360), (360, 400)]
    for p in plans:
        assert p.train[0] == 0 and p.train[1] == p.val[0] and p.val[1] == p.test[0]
        assert p.model_train[1] <= p.test[0] and p.retrain
    assert plans[1].train[1] > plans[0].train[1]  # the window grows


def test_rolling_window_keeps_its_length_and_retrain_every_slides_the_model():
    plans = plan_folds(400, BacktestSpec(folds=4, fold_size=30, window="rolling", train_size=150, retrain_every=2), 10, 3)
    assert all(p.val[1] - p.train[0] == 150 for p in plans)
    assert [p.model_fold for p in plans] == [0, 0, 2, 2]
    assert plans[1].model_train == plans[0].train and plans[1].train != plans[0].train
    never = plan_folds(400, BacktestSpec(folds=3, fold_size=40, retrain_every=0), 10, 3)
    assert {p.model_fold for p in never} == {0}


def test_impossible_settings_say_what_to_change():
    with pytest.raises(BacktestError, match="fewer or shorter folds"):
        plan_folds(400, BacktestSpec(folds=10, fold_size=40), 10, 3)
    with pytest.raises(BacktestError, match="fold size of at least 5"):
        plan_folds(400, BacktestSpec(folds=2, fold_size=4), 10, 5)
    with pytest.raises(BacktestError, match="rolling"):
        BacktestSpec(window="sliding").check()
