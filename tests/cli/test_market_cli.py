"""``data fetch`` / ``data import`` through the command handlers."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pricecast.cli import market as cli_market

REPO = Path(__file__).resolve().parents[2]
INVESTING = REPO.parent / "shared" / "data" / "btc_usd_daily_2015_2016_investing.csv"


def run(argv, capsys):
    parser = argparse.ArgumentParser()
    cli_market.register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_fetch_json(fake, capsys):
    code, out, err = run(["fetch", "binance:BTC/USDT:1h", "--since", "2024-01-01", "--until", "2024-01-03", "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["rows"] == 49 and summary["first"].startswith("2024-01-01T00:00")
    assert summary["last"].startswith("2024-01-03T00:00") and summary["gaps"] == 0
    assert summary["source"] == "binance" and Path(summary["cache_file"]).exists()
    assert summary["warnings"] == [] and "loading markets" in err


def test_fetch_kraken_says_what_it_cannot_fetch(fake, capsys):
    """Kraken keeps only its latest 720 candles: the table and --json both say so."""
    code, out, err = run(["fetch", "kraken:BTC/USD:15m", "--since", "2024-01-01", "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["rows"] == 719 and summary["gaps"] == 0
    assert summary["warnings"] == ["kraken keeps only its latest 720 15m candles; older ones cannot be fetched"]
    assert "warning: kraken keeps only" in err


def test_fetch_bad_input_exit_2(fake, capsys):
    code, out, err = run(["fetch", "binance:NOPE/USDT:1h", "--since", "2024-01-01"], capsys)
    assert code == 2 and out == "" and err.strip().splitlines()[-1].startswith("error: binance has no market")
    assert "Traceback" not in err
    code, _, err = run(["fetch", "binance:BTC/USDT:1h", "--since", "yesterday-ish"], capsys)
    assert code == 2 and "not a date" in err


def test_import_json_and_store(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRICECAST_CACHE_DIR", str(tmp_path / "cache"))
    csv = tmp_path / "prices.csv"
    csv.write_text("time,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1.5,2,1,1.8,11\n2024-01-03,1.8,2,1,1.9,12\n")
    code, out, err = run(["import", str(csv), "--json", "--store", "mine"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["rows"] == 3 and summary["last"].startswith("2024-01-03") and summary["gaps"] == 0
    assert summary["cache_file"].endswith("csv/MINE_1d.parquet") and Path(summary["cache_file"]).exists()


def test_import_bad_file_exit_2(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_text("when,price_x\n1,2\n")
    code, out, err = run(["import", str(csv)], capsys)
    assert code == 2 and "missing column" in err and "when, price_x" in err
    code, out, err = run(["import", str(tmp_path / "absent.csv")], capsys)
    assert code == 2 and "no such file" in err


def test_import_subprocess_real_file():
    if not INVESTING.exists():
        pytest.skip(f"{INVESTING} is absent")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "pricecast.cli.market", "import", str(INVESTING), "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rows"] == 713 and summary["first"].startswith("2015-01-01") and summary["last"].startswith("2017-01-01")


def test_train_on_exchange_candles_from_the_cache(fake, capsys):
    """`train --data binance:...` trains on fetched candles; `--offline` then uses the cache alone."""
    from pricecast.cli.main import main

    code, _, _ = run(["fetch", "binance:BTC/USDT:1h", "--since", "2024-01-01", "--until", "2024-01-12"], capsys)
    assert code == 0
    klines_before = len(fake.state.paths("/api/v3/klines"))
    argv = ["train", "--data", "binance:BTC/USDT:1h", "--offline", "--n", "12", "--k", "3", "--epochs", "1",
            "--units", "4", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sizes"]["train"]["first"].startswith("2024-01-01") and out["test"]["persistence_rmse"] > 0
    assert len(fake.state.paths("/api/v3/klines")) == klines_before  # nothing fetched: the cache was used
    fake.stop()  # no network, nothing cached for this pair: a plain message, exit 2
    assert main(["train", "--data", "binance:ETH/USDT:1h", "--offline", "--epochs", "1"]) == 2
    assert "nothing cached" in capsys.readouterr().err
