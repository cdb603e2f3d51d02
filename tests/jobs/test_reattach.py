"""Taking a job back after a reload: only the browser that submitted it (its secret), only once the
tab that holds it is gone, never by a job id from a link. No worker starts here (a fake executor)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pricecast.jobs.registry import JobRegistry
from pricecast.jobs.task import Runner

ROOT = Path(__file__).resolve().parents[2]
MINE, THEIRS = "a" * 32, "b" * 32


class _Handle:
    def __init__(self) -> None:
        self.stopped = self.killed = False

    def stop(self) -> None:
        self.stopped = True

    def kill(self) -> None:
        self.killed = True


class FakeExecutor:
    """Starts nothing: its jobs stay running until the test says otherwise."""

    name = "fake"

    def __init__(self) -> None:
        self.launched: list[tuple] = []

    def launch(self, task, on_message, on_exit):
        self.launched.append((task, on_message, on_exit))
        return _Handle()

    def prewarm(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


def _runner() -> Runner:
    return Runner(run=lambda task, emit, stop: None, warm_up=lambda: None)


@pytest.fixture
def reg() -> JobRegistry:
    return JobRegistry(_runner(), capacity=2, executors={"fake": FakeExecutor()})


def _submit(reg: JobRegistry, session: str, owner: str = MINE):
    return reg.submit(session, "train", {}, executor="fake", owner=owner)


def test_only_the_same_browser_takes_a_job_back_once_its_tab_is_gone(reg):
    job = _submit(reg, "tab-1")
    open_tabs = {"tab-1"}
    assert reg.reclaim("stranger", THEIRS, "train", open_tabs.__contains__) is None
    assert reg.reclaim("stranger", "", "train", open_tabs.__contains__) is None
    # The same browser, another tab, while the first is open: the first keeps its job.
    assert reg.reclaim("tab-2", MINE, "train", open_tabs.__contains__) is None
    assert reg.get("tab-1", job.id) is job
    open_tabs.clear()  # tab 1 reloaded: its old session is gone
    assert reg.reclaim("tab-1b", MINE, "train", open_tabs.__contains__) is job
    assert reg.get("tab-1b", job.id) is job and reg.get("tab-1", job.id) is None
    open_tabs.add("tab-1b")
    assert reg.reclaim("tab-3", MINE, "train", open_tabs.__contains__) is None  # no stealing back and forth


def test_only_an_unfinished_job_comes_back_with_the_old_tabs_history(reg):
    first = _submit(reg, "tab-1")
    first.on_message(("result", None))
    assert reg.reclaim("tab-2", MINE, "train") is None  # finished: a new tab starts clean
    running = reg.submit("tab-1", "train", {}, executor="fake", owner=MINE)
    assert reg.reclaim("tab-2", MINE, "train") is running
    assert reg.jobs("tab-2", "train") == [first, running]


def test_closed_tabs_finished_jobs_are_forgotten_past_a_bound():
    reg = JobRegistry(_runner(), capacity=2, keep=2, executors={"fake": FakeExecutor()})
    for i in range(30):
        job = reg.submit(f"tab-{i}", "train", {}, executor="fake", exclusive=False)
        job.on_message(("result", None))
    assert len(reg._jobs) == 21  # keep x 10 finished when the last was submitted, then the last


def test_a_link_with_someone_elses_job_id_gets_no_stop_button(tmp_path, monkeypatch):
    """A fresh browser session opening a Train link that names a running job (as older versions
    wrote it into the address) must not get that job, nor its Stop and Kill buttons."""
    from pricecast.service.dashboard import registry

    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(registry(), "prewarm", lambda *a, **k: None)  # no TensorFlow worker for this
    registry()._executors["fake"] = FakeExecutor()
    job = registry().submit("owners-tab", "train", {}, executor="fake", owner=MINE)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.query_params.update({"job": job.id})
        at.run()
        at.switch_page("pages/3_Train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert registry().get("owners-tab", job.id) is job
        assert registry().get(at.session_state["pc_session_id"], job.id) is None
        assert at.button(key="train_stop").disabled
        assert not at.button(key="train_start").disabled
        assert [b for b in at.button if b.key == "train_kill"] == []
        assert "job" not in at.query_params
    finally:
        job.on_message(("error", "test over"))
        registry()._executors.pop("fake", None)
