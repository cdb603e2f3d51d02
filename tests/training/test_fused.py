"""Trials trained together (pricecast.training.fused): which trials may fuse, how they are grouped
for the workers, and — on JAX, in a child process, since the backend is chosen once per process —
that a fused branch trains as the same trial trained alone, with its own regularizer, early
stopping and NaN guard."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.service.trials import fusable_groups
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.fused import fusion_key

REPO = Path(__file__).resolve().parents[2]
BASE = RunSpec(data="sample:AAPL", window=WindowSpec(n=10, k=2), model=ModelSpec(arch="gru", units=(4,)),
               train=TrainSpec(epochs=2, batch_size=64, patience=0))


def _with(spec: RunSpec, model: dict | None = None, train: dict | None = None) -> RunSpec:
    return spec.replace(model=replace(spec.model, **(model or {})), train=replace(spec.train, **(train or {})))


def test_seeds_regularizers_and_the_decision_fuse_shapes_and_steps_do_not():
    key = fusion_key(BASE)
    assert key is not None
    for same in ({"train": {"seed": 3}}, {"model": {"l1": 0.01}}, {"model": {"l2": 0.1, "regularize": ("bias",)}},
                 {"train": {"persistence_floor": False, "pipeline": "batches"}}):
        assert fusion_key(_with(BASE, **same)) == key, same
    for other in ({"model": {"units": (8,)}}, {"model": {"dropout": 0.2}}, {"model": {"learning_rate": 0.01}},
                  {"train": {"batch_size": 32}}, {"train": {"epochs": 3}}, {"train": {"shuffle": False}}):
        assert fusion_key(_with(BASE, **other)) != key, other
    assert fusion_key(BASE.replace(data="sample:TSLA")) != key
    # float16 and activity penalties (they depend on the batch, not on a weight) train alone
    assert fusion_key(_with(BASE, train={"mixed_precision": True})) is None
    assert fusion_key(_with(BASE, model={"l1": 0.1, "regularize": ("activity",)})) is None


def _task(key: str, spec: RunSpec, folds: int = 0) -> dict:
    return {"key": key, "variation": key[0], "label": key[0], "repeat": int(key[-1]), "seed": spec.train.seed,
            "spec": spec.to_dict(), "folds": folds}


def test_groups_keep_order_and_share_the_workers():
    a = [_task(f"a#r{i}", _with(BASE, train={"seed": i})) for i in range(6)]
    b = [_task(f"b#r{i}", _with(BASE, model={"units": (8,)}, train={"seed": i})) for i in range(2)]
    alone = _task("c#r0", _with(BASE, train={"mixed_precision": True}))
    groups = fusable_groups([*a, alone, *b], workers=2)
    keys = [[t["key"] for t in g] for g in groups]
    # each key's trials in their order, cut in whole rounds of the 2 workers
    assert keys == [["a#r0", "a#r1", "a#r2"], ["a#r3", "a#r4", "a#r5"], ["b#r0"], ["b#r1"], ["c#r0"]]
    assert [len(g) for g in fusable_groups(a, workers=1, limit=4)] == [3, 3]
    assert [len(g) for g in fusable_groups(a, workers=1)] == [6]


def test_walk_forward_trials_group_by_key_and_folds():
    walked = [_task(f"w#r{i}", _with(BASE, train={"seed": i}), folds=3) for i in range(3)]
    other_folds = _task("f#r0", BASE, folds=2)
    single_split = _task("s#r0", BASE)
    other_net = _task("n#r0", _with(BASE, model={"units": (8,)}), folds=3)
    groups = fusable_groups([walked[0], other_folds, walked[1], single_split, other_net, walked[2]])
    assert [[t["key"] for t in g] for g in groups] == [["w#r0", "w#r1", "w#r2"], ["f#r0"], ["s#r0"], ["n#r0"]]


def test_without_jax_the_group_trains_one_by_one_with_the_same_results():
    """This process's Keras runs on TensorFlow: fit_group falls back to ``fit`` per spec."""
    from pricecast.training.fitting import fit
    from pricecast.training.fused import fit_group
    from pricecast.training.pipeline import prepare

    spec = BASE.replace(data="sample:AAPL")
    prep = prepare(spec)
    specs = [spec, _with(spec, train={"seed": 5}, model={"l2": 0.01})]
    group = fit_group(specs, prep.windows.train, prep.windows.val, prep.scaler)
    alone = fit(specs[1], prep.windows.train, prep.windows.val, prep.scaler)
    assert [g.fusion for g in group] == [None, None]
    assert group[1].history["val_loss"].tolist() == pytest.approx(alone.history["val_loss"].tolist(), rel=1e-6)


CHILD = textwrap.dedent("""
    import json, sys
    from dataclasses import replace
    import numpy as np
    from pricecast.specs import RunSpec
    from pricecast.training.backend import load_keras
    from pricecast.training.fitting import fit
    from pricecast.training.fused import fit_group
    from pricecast.training.pipeline import prepare

    assert load_keras().backend.backend() == "jax"
    base = RunSpec.from_dict(json.loads(sys.argv[1]))
    prep = prepare(base)
    parts = (prep.windows.train, prep.windows.val, prep.scaler)

    def variant(seed, **model):
        return base.replace(model=replace(base.model, **model), train=replace(base.train, seed=seed))

    # branch 0: the batch order's seed; branch 1: an L2 penalty; branch 2: diverges (a penalty
    # past float32); branch 3: plain, another seed
    specs = [variant(7), variant(8, l2=0.05), variant(9, l2=1e38, regularize=("kernel", "bias")), variant(10)]
    group = fit_group(specs, *parts)
    out = {"fused": [g.fusion is not None for g in group],
           "best_epoch": [g.best_epoch for g in group], "epochs": [g.epochs_run for g in group],
           "diverged": [g.diverged_at for g in group]}
    # the same trials trained alone (arrays, no shuffling: the batches of the group, in its order)
    for name, r, spec in (("first", 0, specs[0]), ("l2", 1, specs[1])):
        alone = fit(spec, *parts)
        a = [np.asarray(v.value) for v in group[r].model.trainable_variables]
        b = [np.asarray(v.value) for v in alone.model.trainable_variables]
        out[name] = {"weights": max(float(np.max(np.abs(u - v))) for u, v in zip(a, b)),
                     "val_fused": group[r].history["val_loss"].tolist(), "val_alone": alone.history["val_loss"].tolist(),
                     "loss_fused": group[r].history["loss"].tolist(), "loss_alone": alone.history["loss"].tolist(),
                     "best": [group[r].best_epoch, alone.best_epoch]}
    print("RESULT " + json.dumps(out))
""")


def _run_child(spec: RunSpec, script: str = CHILD) -> dict:
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(spec.to_dict())], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.mark.slow
def test_a_fused_branch_trains_as_the_same_trial_alone_on_jax():
    # no shuffling: the same batches in the same order, so what is left is the order of float sums
    # (one batched computation against one network at a time)
    spec = _with(BASE, model={"optimizer": "sgd", "learning_rate": 0.05}, train={"shuffle": False, "epochs": 3})
    out = _run_child(spec)
    assert out["fused"] == [True] * 4
    for name in ("first", "l2"):
        got = out[name]
        assert got["weights"] < 1e-4, (name, got)
        assert got["val_fused"] == pytest.approx(got["val_alone"], rel=1e-4), name
        assert got["loss_fused"] == pytest.approx(got["loss_alone"], rel=1e-4), name
        assert got["best"][0] == got["best"][1], name
    # the diverging branch stopped in its first epoch and kept nothing; the others went on
    assert out["diverged"][2][0] == 1 and out["best_epoch"][2] == 0
    assert out["diverged"][3] is None and out["epochs"][3] == 3 and out["best_epoch"][3] > 0


SHUFFLED_CHILD = textwrap.dedent("""
    import json, sys
    from dataclasses import replace
    import numpy as np
    from pricecast.specs import RunSpec
    from pricecast.training.fused import fit_group
    from pricecast.training.pipeline import prepare

    base = RunSpec.from_dict(json.loads(sys.argv[1]))
    prep = prepare(base)
    parts = (prep.windows.train, prep.windows.val, prep.scaler)
    s7, s8, s9 = (base.replace(train=replace(base.train, seed=seed)) for seed in (7, 8, 9))
    first, second = fit_group([s7, s8], *parts), fit_group([s8, s9], *parts)

    def gap(u, v):
        a = [np.asarray(w.value) for w in u.model.trainable_variables]
        b = [np.asarray(w.value) for w in v.model.trainable_variables]
        return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))

    print("RESULT " + json.dumps({"same_trial": gap(first[1], second[0]), "other_trial": gap(first[1], second[1]),
                                  "seeds": [g.fusion.batch_seed for g in first + second],
                                  "val": [first[1].history["val_loss"].tolist(), second[0].history["val_loss"].tolist()]}))
""")


@pytest.mark.slow
def test_a_shuffled_branch_trains_in_its_own_seeds_order_whatever_group_it_is_in_on_jax():
    """Each branch draws its batch order from its own seed: the same trial (seed 8) trains the same
    second in one group and first in another (a resume may group trials differently), and the
    repeats of a setting differ in their batch order as they do apart."""
    spec = _with(BASE, model={"optimizer": "sgd", "learning_rate": 0.05}, train={"shuffle": True, "epochs": 2})
    out = _run_child(spec, SHUFFLED_CHILD)
    assert out["seeds"] == [7, 8, 8, 9]
    assert out["same_trial"] < 1e-5, out
    assert out["val"][0] == pytest.approx(out["val"][1], rel=1e-5)
    assert out["other_trial"] > 100 * max(out["same_trial"], 1e-7), out


WALK_CHILD = textwrap.dedent("""
    import json, sys, tempfile
    from dataclasses import replace
    import numpy as np
    import pricecast.backtest.walkforward as walkforward
    from pricecast.data.datasets import load_data
    from pricecast.service.trials import backtest_of, run_trial, run_trials
    from pricecast.specs import RunSpec
    from pricecast.training.backend import load_keras

    assert load_keras().backend.backend() == "jax"
    base = RunSpec.from_dict(json.loads(sys.argv[1]))
    candles = load_data(base.data).candles.iloc[-700:]
    specs = [base.replace(train=replace(base.train, seed=seed)) for seed in (3, 4, 5)]
    fused = []
    real = walkforward.fit_group

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        fused.append([f.fusion is not None for f in out])
        return out

    walkforward.fit_group = spy
    bt = backtest_of(base, 3, len(candles))
    together = walkforward.run_backtests(specs, bt, candles=candles, use_cache=False)
    alone = [walkforward.run_backtest(s, bt, candles=candles, use_cache=False) for s in specs]
    tasks = [{"key": f"g#r{i}", "variation": "g", "label": "g", "repeat": i, "seed": s.train.seed,
              "spec": s.to_dict(), "folds": 3} for i, s in enumerate(specs)]
    with tempfile.TemporaryDirectory() as exp_dir:
        group_records = run_trials(tasks, candles, exp_dir)
        lone_records = [run_trial(t, candles, exp_dir) for t in tasks]

    def walk(r):
        return {"predicted": [np.asarray(f.predicted).ravel().tolist() for f in r.folds],
                "rmse": r.overall["rmse"], "trained": r.models_trained, "stopped": r.stopped,
                "info": [{k: f.model_info.get(k) for k in ("best_epoch", "epochs_run", "decision")} for f in r.folds]}

    keys = ("status", "folds", "test_rmse", "network_rmse", "persistence_rmse", "decision", "as_persistence",
            "epochs_run", "best_val_loss", "paired_p", "fused")
    print("RESULT " + json.dumps({"fused": fused, "together": [walk(r) for r in together],
                                  "alone": [walk(r) for r in alone],
                                  "group_records": [{k: r.get(k) for k in keys} for r in group_records],
                                  "lone_records": [{k: r.get(k) for k in keys} for r in lone_records]}))
""")


@pytest.mark.slow
def test_walk_forward_trials_walked_together_match_each_walked_alone_on_jax():
    spec = _with(BASE, model={"optimizer": "sgd", "learning_rate": 0.05}, train={"shuffle": False, "epochs": 2})
    out = _run_child(spec, WALK_CHILD)
    # every fold's three models trained as one fused group (the first three calls: run_backtests)
    assert out["fused"][:3] == [[True] * 3] * 3
    for got, want in zip(out["together"], out["alone"]):
        assert got["trained"] == want["trained"] == 3 and not got["stopped"]
        assert got["info"] == want["info"]
        for a, b in zip(got["predicted"], want["predicted"]):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
        assert got["rmse"] == pytest.approx(want["rmse"], rel=1e-4)
    # each record says how many trials walked with it
    assert [r.pop("fused") for r in out["group_records"]] == [3] * 3
    assert [r.pop("fused") for r in out["lone_records"]] == [1] * 3
    for got, want in zip(out["group_records"], out["lone_records"]):
        assert got["status"] == want["status"] == "ok"
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-4), key
            else:
                assert got[key] == value, key


def test_the_batch_order_is_the_batches_pipelines():
    from pricecast.training.feeding import BatchOrder, WindowBatches
    from pricecast.training.pipeline import prepare

    prep = prepare(BASE)
    fed = WindowBatches(prep.windows.train, prep.scaler, 64, True, 7)
    drawn = BatchOrder(len(prep.windows.train), True, 7)
    for _ in range(3):
        assert all((fed.batches.batch(i, 64) == drawn.batch(i, 64)).all() for i in range(len(fed)))
        fed.on_epoch_end()
        drawn.next_epoch()
    assert not (drawn.order == BatchOrder(len(prep.windows.train), True, 8).order).all()


def test_each_branch_is_booked_as_fit_books_a_training():
    """Best weights, early stopping (keras.callbacks.EarlyStopping's rule) and the NaN guard, per branch."""
    import math

    import numpy as np

    from pricecast.training.fused import _Branches

    books = _Branches(3, patience=2)
    sizes = np.array([64.0, 64.0, 10.0])
    vals = [[0.5, 0.5, 0.5], [0.4, 0.6, 0.5], [0.45, 0.7, 0.5], [0.46, 0.8, 0.5]]
    for epoch, val in enumerate(vals, start=1):
        losses = np.ones((3, 3))
        if epoch == 2:
            losses[1, 2] = math.inf  # branch 2's second batch of epoch 2
        improved, ending = books.end_epoch(epoch, losses, sizes, np.array(val), 1.0)
        if epoch == 1:
            assert improved.all() and not ending.any()
        if epoch == 2:
            assert improved.tolist() == [True, False, False] and ending.tolist() == [False, False, True]
    # branch 0 improved at 2 and waited 2 epochs: stopped after epoch 4; branch 1 never improved
    # after 1: stopped after epoch 3; branch 2 diverged in epoch 2 at batch 2
    assert books.best_epoch.tolist() == [2, 1, 1]
    assert books.epochs_run.tolist() == [4, 3, 2] and not books.active.any()
    assert books.diverged == [None, None, (2, 2)]
    assert books.rows[0][0] == {"loss": 1.0, "val_loss": 0.5, "seconds": 1.0}


@pytest.mark.slow
def test_a_killed_fused_experiment_resumes_without_lost_or_repeated_trials(tmp_path):
    """Killed (driver and workers) while its groups train, an experiment run again trains only the
    trials with no record; every trial ends with exactly one record and its run folder."""
    import signal
    import time

    pytest.importorskip("jax")
    from pricecast.events import Trial
    from pricecast.experiments.spec import grid
    from pricecast.experiments.storage import load_experiment, read_records
    from pricecast.service.experiments import run_experiment

    from ..experiments.conftest import tiny

    exp = tiny("fused-kill", grid(units=[(4,)]), repeats=6)
    definition = tmp_path / "fused-kill.json"
    definition.write_text(json.dumps(exp.to_dict()))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PRICECAST_HOME": str(tmp_path / "home")}
    child = subprocess.Popen([sys.executable, "-m", "pricecast", "experiment", "run", "--spec", str(definition),
                              "--root", str(tmp_path), "--workers", "2", "--quiet"], cwd=REPO, env=env,
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = tmp_path / "fused-kill"
    deadline = time.monotonic() + 300
    while not read_records(folder) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)  # the driver and its workers, mid-experiment
    child.wait()
    before = {r["key"] for r in read_records(folder)}
    assert 1 <= len(before), "no trial finished before the kill"

    events: list = []
    done = run_experiment(exp, executor="local", workers=2, progress=events.append, root=tmp_path)
    ran = [e.record["key"] for e in events if isinstance(e, Trial)]
    assert not set(ran) & before and len(ran) == len(set(ran))  # only the missing ones, each once
    assert done.done == 6 and not done.missing()
    records = read_records(folder)
    assert sorted(r["key"] for r in records) == sorted({r["key"] for r in records})
    assert all((folder / r["run_dir"] / "model.keras").exists() for r in records)
    assert max(r["fused"] for r in load_experiment("fused-kill", tmp_path).records) > 1  # trained together
