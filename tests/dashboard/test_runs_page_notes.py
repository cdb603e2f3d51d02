"""The Runs page names the run folders it cannot read instead of leaving them out silently."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_runs_page_says_which_folder_could_not_be_read(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    broken = tmp_path / "runs" / "20260102-000000_broken"
    broken.mkdir(parents=True)
    (broken / "spec.json").write_text('{"data": "sample:IBM"}')
    (broken / "metrics.json").write_text("{not json")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/5_Runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("1 run folder could not be read: 20260102-000000_broken" in w.value.replace("\\", "") for w in at.warning)
