"""A process that used job workers exits on its own: multiprocessing joins every non-daemon child at
exit, and workers are not daemons, so a spare worker waiting for a task (the Train page starts one)
or one still training used to keep the interpreter (pytest after the page tests, a stopped dashboard
server) waiting forever. Fast: the tasks sleep instead of training."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sleep_then_write(task, emit, stop):
    """A task: write ``file``.started (the worker holds it), sleep ``seconds``, then write ``file``
    (it proves the task ran to its end)."""
    Path(task.payload["file"] + ".started").write_text("started")
    time.sleep(task.payload["seconds"])
    Path(task.payload["file"]).write_text("done")
    return "done"


def mark_ready() -> None:
    """A spare worker's warm-up: say it is up (the parent waits for that before it exits)."""
    Path(os.environ["PRICECAST_TEST_READY"]).write_text("ready")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _run_parent(tmp_path: Path, body: str, timeout: float = 60) -> list[int]:
    """Run ``body`` in a fresh interpreter that then exits; the workers' pids it printed."""
    script = textwrap.dedent("""
        import multiprocessing, sys, time
        from pricecast.jobs.executors import LocalExecutor
        from pricecast.jobs.task import Runner, Task
        from tests.jobs.test_exit import mark_ready, sleep_then_write
        runner = Runner(run=sleep_then_write, warm_up=mark_ready)
        def pids():
            print(*[p.pid for p in multiprocessing.active_children() if p.name == "pricecast-job"], flush=True)
        def wait_for(path):  # the worker holds its task: a condition, not a guess of how long that takes
            from pathlib import Path
            deadline = time.time() + 50
            while not Path(path).exists() and time.time() < deadline:
                time.sleep(0.05)
    """) + textwrap.dedent(body)
    try:
        proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the interpreter did not exit: {exc.stdout}")
    assert proc.returncode == 0, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert pids
    deadline = time.time() + 10
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a worker outlived its parent"
    return pids


def test_an_unused_spare_worker_does_not_keep_the_interpreter_alive(tmp_path):
    _run_parent(tmp_path, f"""
        import os
        from pathlib import Path
        os.environ["PRICECAST_TEST_READY"] = r"{tmp_path / 'ready'}"
        executor = LocalExecutor(runner, spare=True)
        executor.prewarm()
        while not Path(os.environ["PRICECAST_TEST_READY"]).exists():
            time.sleep(0.1)
        pids()
    """)


def test_a_worker_still_running_its_task_is_ended_at_exit(tmp_path):
    _run_parent(tmp_path, f"""
        executor = LocalExecutor(runner, spare=False)
        executor.launch(Task("sleep", {{"seconds": 600, "file": r"{tmp_path / 'never'}"}}), lambda m: None, lambda code: None)
        wait_for(r"{tmp_path / 'never'}.started")
        pids()
    """)
    assert not (tmp_path / "never").exists()


def test_an_experiment_worker_finishes_its_task_then_ends_at_exit(tmp_path):
    _run_parent(tmp_path, f"""
        executor = LocalExecutor(runner, spare=False, keep_idle=1, finish_when_orphaned=True)
        executor.launch(Task("sleep", {{"seconds": 3, "file": r"{tmp_path / 'trial'}"}}), lambda m: None, lambda code: None)
        wait_for(r"{tmp_path / 'trial'}.started")
        pids()
    """)
    assert (tmp_path / "trial").read_text() == "done"
