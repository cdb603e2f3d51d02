"""``--since``/``--until`` on train, backtest and tune, like the Data page's date range."""
from __future__ import annotations

import json

import pytest

from pricecast.cli.main import build_parser, main


def test_the_range_options_exist_on_every_data_command():
    for command in (["train"], ["backtest"], ["tune"], ["data", "show", "sample:AAPL"]):
        args = build_parser().parse_args([*command, "--since", "2005-01-01", "--until", "2006-12-31"])
        assert (args.since, args.until) == ("2005-01-01", "2006-12-31")


def test_an_empty_range_is_a_plain_message(capsys):
    assert main(["train", "--data", "sample:AAPL", "--since", "2030-01-01"]) == 2
    assert "no candles between 2030-01-01 and the end" in capsys.readouterr().err


@pytest.mark.slow
def test_train_uses_only_the_range(tmp_path, capsys):
    assert main(["train", "--data", "sample:AAPL", "--since", "2005-01-01", "--until", "2008-12-31", "--n", "10",
                 "--k", "2", "--epochs", "1", "--units", "4", "--runs-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    metrics = json.loads((tmp_path / out["run_dir"].split("/")[-1] / "metrics.json").read_text())
    assert metrics["data"]["first"] >= "2005-01-01" and metrics["data"]["last"] < "2009-01-01"
