"""The exported script: standalone, same windows, same network, same result."""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from pricecast.cli.main import main
from pricecast.prep.windows import WindowSpec
from pricecast.report.script import ScriptError, check_supported, write_script
from pricecast.specs import RunSpec


def test_derived_inputs_are_refused_by_name():
    run = SimpleNamespace(spec=RunSpec(window=WindowSpec(features=("close", "log_return", "hour"))))
    with pytest.raises(ScriptError, match="log_return, hour_sin, hour_cos"):
        check_supported(run)


def test_export_needs_something_to_write(fake_run, capsys):
    folder, _ = fake_run
    assert main(["export", str(folder)]) == 2
    assert "--script" in capsys.readouterr().err


@pytest.mark.slow
def test_the_script_reproduces_the_run(default_run, tmp_path):
    script, csv = write_script(default_run, tmp_path / "train_again.py")
    assert csv == tmp_path / "train_again_data.csv" and csv.exists()
    text = script.read_text()
    assert "import pricecast" not in text and "from pricecast" not in text
    assert "layers.GRU(" in text and "layers.Dense(name='forecast'" in text  # plain Keras, from the graph
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=900, env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3",
                                            "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    test = json.loads((default_run / "metrics.json").read_text())["test"]
    assert result["persistence_rmse"] == pytest.approx(test["persistence_rmse"], rel=1e-9, abs=1e-9)
    assert result["test_rmse"] == pytest.approx(test["rmse"], rel=0.03)
