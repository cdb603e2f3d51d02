"""Issue 27 (hostile input and faults, round three): the command-line cases.

The YAML, network, CSV, cache and quality cases are tested next to their modules (tests/test_spec_io.py,
tests/data/...); these go through ``python -m pricecast``'s ``main``.
"""
from __future__ import annotations

import json
from pathlib import Path

from pricecast.specs import RunSpec
from pricecast.training.runs import RUN_FILES

from .test_hostile_cli import _cli


def test_predict_on_a_garbage_metrics_file_names_the_file(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in RUN_FILES:
        (run / name).write_text("")
    (run / "spec.json").write_text(json.dumps(RunSpec().to_dict()))
    (run / "history.csv").write_text("epoch,loss,val_loss\n1,0.5,0.6\n")
    (run / "metrics.json").write_bytes(b'{"test": "\x01\x02 garbage')
    code, _, err = _cli(capsys, "predict", str(run))
    assert code == 2, err
    assert f"{Path(run) / 'metrics.json'} is damaged (not valid JSON" in err and "train this run again" in err


def test_experiment_resume_keeps_the_workers_it_was_started_with(capsys, tmp_path, monkeypatch):
    from pricecast.service import trials
    from pricecast.service.experiments import run_experiment

    from ..experiments.conftest import tiny

    used: list[int] = []
    # record the trials-at-a-time each run asks for; training itself is not what is tested here
    monkeypatch.setattr(trials, "execute", lambda executor, todo, candles, folder, on_result, stop, workers,
                        address=None, fuse=True: used.append(workers))
    monkeypatch.setattr("pricecast.service.experiments.default_workers", lambda gpu=None: 4)
    run_experiment(tiny("one-at-a-time"), workers=1, root=tmp_path)  # "killed" before any trial finished
    code, _, err = _cli(capsys, "experiment", "resume", "one-at-a-time", "--root", str(tmp_path))
    assert code == 0, err
    assert "with the local executor, 1 at a time" in err
    assert used == [1, 1]  # was [1, 4]: the resume ran one per core
    _cli(capsys, "experiment", "resume", "one-at-a-time", "--root", str(tmp_path), "--workers", "2")
    assert used[-1] == 2  # given again, it wins (and is remembered)


def test_a_full_runs_folder_keeps_the_trained_model_in_the_temporary_folder(capsys, tmp_path, monkeypatch):
    import errno
    import os

    from pricecast.training import pipeline
    from pricecast.training.runs import load_run

    runs, tmp = tmp_path / "runs", tmp_path / "tmp"
    real_save = pipeline.save_run

    def full_disk(run, root=None):
        if Path(root) == runs:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(run, root)

    monkeypatch.setattr(pipeline, "save_run", full_disk)
    tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    code, _, err = _cli(capsys, "train", "--data", "sample:MSFT", "--n", "10", "--k", "2", "--arch", "mlp",
                        "--units", "4", "--epochs", "1", "--patience", "0", "--runs-dir", str(runs))
    assert code == 2, err
    saved = list((tmp / "pricecast-unsaved-runs").iterdir())
    assert len(saved) == 1 and not saved[0].name.startswith(".")
    assert "could not be saved in the runs folder (No space left on device)" in err
    assert f"it was saved in {saved[0]} instead" in err and "it was not kept" not in err
    run = load_run(saved[0])  # a whole run: the weights were not thrown away
    assert run.load_model().count_params() > 0
