"""What many tabs watching trainings cost the server: a job's snapshot is reused while nothing
changed, live-chart JSON is built once per new event (shared by sessions and reruns), and the live
charts' redraw budget is counted across sessions."""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from pricecast.events import Epoch, Started
from tests.jobs.test_reattach import FakeExecutor
from ui import charts

ROOT = Path(__file__).resolve().parents[2]


def _fig() -> go.Figure:
    return go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))


def test_figure_json_is_built_once_per_key_and_bounded():
    shared = charts.SharedFigures(size=2)
    calls = []

    def build():
        calls.append(1)
        return _fig()

    first = shared.json(("job", 1), build)
    assert shared.json(("job", 1), build) is first and len(calls) == 1
    shared.json(("job", 2), build)
    shared.json(("job", 3), build)
    assert len(calls) == 3 and len(shared._items) == 2
    shared.json(("job", 1), build)  # evicted: built again
    assert len(calls) == 4


def test_the_live_chart_budget_is_shared_by_all_sessions(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(charts.time, "monotonic", lambda: clock[0])
    live = charts.LiveBudget(per_second=1.0)
    assert live.every(2.0, "a") == 2.0  # alone: as it wishes
    for session in "abcdef":
        live.watching(session, 2.0)
    assert live.every(2.0, "a") == 6.0  # six sessions: each redraws every 6 s, one redraw a second in all
    assert live.every(10.0, "a") == 10.0
    live.done("f")
    assert live.every(2.0, "a") == 5.0
    clock[0] += 60  # tabs closed without a word: forgotten
    assert live.watchers() == 0 and live.every(2.0, "a") == 2.0


def test_a_jobs_snapshot_is_reused_while_nothing_changed():
    from pricecast.jobs.registry import JobRegistry
    from tests.jobs.test_reattach import _runner

    reg = JobRegistry(_runner(), capacity=1, executors={"fake": FakeExecutor()})
    job = reg.submit("tab", "train", {}, executor="fake")
    first = reg.snapshot(job)
    assert reg.snapshot(job) is first
    job.on_message(("event", Started(epochs=3)))
    second = reg.snapshot(job)
    assert second is not first and second.training.epochs == 3
    job.kill()
    assert reg.snapshot(job).killed


def test_train_page_reruns_reuse_the_live_charts_json(tmp_path, monkeypatch):
    from pricecast.service.dashboard import registry

    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(registry(), "prewarm", lambda *a, **k: None)  # no TensorFlow worker for this
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/3_Train.py").run()
    registry()._executors["fake"] = FakeExecutor()
    job = registry().submit(at.session_state["pc_session_id"], "train", {}, executor="fake")
    try:
        job.on_message(("event", Started(epochs=3)))
        job.on_message(("event", Epoch(epoch=1, epochs=3, loss=1.0, val_loss=1.1, seconds=1.0, elapsed=1.0)))
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("bidi_component")  # the loss chart is drawn
        builds = charts.SHARED.builds
        at.run()
        at.run()
        assert charts.SHARED.builds == builds  # nothing new happened: nothing rebuilt
        job.on_message(("event", Epoch(epoch=2, epochs=3, loss=0.9, val_loss=1.0, seconds=1.0, elapsed=2.0)))
        at.run()
        assert charts.SHARED.builds == builds + 1
    finally:
        job.on_message(("error", "test over"))
        registry()._executors.pop("fake", None)
        charts.LIVE.done(at.session_state["pc_session_id"])
