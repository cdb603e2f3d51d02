"""The runs list says what it cannot show: unreadable run folders by name, trainings that were
interrupted before saving (their process killed). No training here: folders are written by hand."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pricecast.cli.main import main as cli_main
from pricecast.training.runs import RUNNING, list_runs, saved_at, scan_runs

ROOT = Path(__file__).resolve().parents[2]


def _run_folder(root: Path, name: str, metrics: str = '{"test": {"rmse": 1.0}}') -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps({"data": "sample:IBM", "preset": "default", "model": {"arch": "gru"},
                                                  "window": {"n": 10, "k": 2}}))
    (folder / "metrics.json").write_text(metrics)
    return folder


def test_a_corrupt_metrics_file_is_named_not_silently_left_out(tmp_path, capsys):
    _run_folder(tmp_path, "20260101-000000_good")
    _run_folder(tmp_path, "20260102-000000_broken", metrics='{"test": {"rmse": 1.0')
    listing = scan_runs(tmp_path)
    assert [r["run"] for r in listing.rows] == ["20260101-000000_good"] == [r["run"] for r in list_runs(tmp_path)]
    assert len(listing.notes) == 1
    assert listing.notes[0].startswith("1 run folder could not be read: 20260102-000000_broken (metrics.json is not valid JSON")

    assert cli_main(["runs", "--runs-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "20260101-000000_good" in out
    assert "1 run folder could not be read: 20260102-000000_broken" in err


def test_a_killed_training_is_listed_as_interrupted(tmp_path):
    script = ("import sys, time\n"
              "from pricecast.presets import get_preset\n"
              "from pricecast.training.runs import running_marker\n"
              "with running_marker(get_preset('default').spec, sys.argv[1]):\n"
              "    print('marked', flush=True)\n"
              "    time.sleep(120)\n")
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "marked"
        assert scan_runs(tmp_path).interrupted == []  # still training
        child.kill()
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    listing = scan_runs(tmp_path)
    assert len(listing.interrupted) == 1 and listing.interrupted[0]["preset"] == "default"
    assert "1 training was interrupted before saving" in listing.notes[0]


def test_a_training_that_ends_leaves_no_marker(tmp_path):
    from pricecast.presets import get_preset
    from pricecast.training.runs import running_marker

    with running_marker(get_preset("default").spec, tmp_path) as marker:
        assert marker.exists()
    assert not list((tmp_path / RUNNING).glob("*.json"))
    assert scan_runs(tmp_path).notes == []


def test_a_run_folder_name_says_when_it_was_saved():
    saved = saved_at("20251125-064512-default-sample-AAPL-1a2b3c")
    assert saved is not None and saved.isoformat() == "2025-11-25T06:45:12+00:00"
    assert saved_at("my-old-run") is None and saved_at("2025") is None  # renamed by hand: no time, no error
