"""The sidebar and the menu every page shares (ui/common.py): job news said once and by name, and
icons from Streamlit's own Material font (emoji are empty boxes on a machine without an emoji font)."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("streamlit")

from pricecast.jobs.job import JobState
from pricecast.service.tasks import TrainResult
from ui import common

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_000_000.0


def _snap(id_: str, kind: str, state: str, ended: float | None = None, run: str = "", label: str = "sample:AAPL"):
    return SimpleNamespace(id=id_, kind=kind, state=JobState(state), finished=JobState(state).finished, ended=ended,
                           label=label, result=TrainResult(run, {}) if run else None)


def test_three_finished_trainings_are_one_line_naming_the_latest_run():
    snaps = [_snap("a", "train", "done", NOW - 200, "/home/runs/20261204-050000-default-AAPL-aaaaaa"),
             _snap("b", "train", "done", NOW - 100, "/home/runs/20261204-050100-default-AAPL-bbbbbb"),
             _snap("c", "train", "done", NOW - 50, "/home/runs/20261204-050200-default-AAPL-cccccc"),
             _snap("d", "backtest", "running"), _snap("e", "summary", "done", NOW - 10),
             _snap("f", "experiment", "error", NOW - 400)]  # too old to be news
    shown = common.sidebar_jobs(snaps, now=NOW)
    assert [s.id for s in shown] == ["c", "d"]
    assert common.job_name(shown[0]) == "20261204-050200-default-AAPL-cccccc"  # the run's name, no server path
    assert common.job_name(_snap("x", "backtest", "done", NOW, label="sample:BTC-USD-1H")) == "sample:BTC-USD-1H"


def test_every_icon_is_a_material_icon():
    assert all(re.fullmatch(r":material/[a-z_]+:", icon) for _, _, icon in common.PAGES)
    sources = [*ROOT.joinpath("pages").glob("*.py"), *ROOT.joinpath("ui").glob("*.py"), ROOT / "app.py"]
    literal = [(p.name, m) for p in sources for m in re.findall(r'icon="([^"]*)"', p.read_text())
               if not m.startswith(":material/")]
    assert not literal, literal
    emoji = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u23E9-\u23FA]")
    assert not [p.name for p in sources if emoji.search(p.read_text())]
