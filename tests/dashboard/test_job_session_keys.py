"""A page forgets the ids of jobs the registry no longer has (a long session would pile them up)."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_keys_of_a_forgotten_job_leave_the_session(monkeypatch, tmp_path):
    from pricecast.service.dashboard import registry

    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(registry(), "prewarm", lambda *a, **k: None)  # no TensorFlow worker for this
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    for key, value in {"exp_seen_done": ("gone", 3), "exp_shown": "gone", "pc_job": "gone",
                       "pc_train_polling": "gone"}.items():
        at.session_state[key] = value
    at.switch_page("pages/6_Experiments.py").run()
    at.switch_page("pages/3_Train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    for key in ("exp_seen_done", "exp_shown", "pc_job", "pc_train_polling"):
        assert key not in at.session_state, key
