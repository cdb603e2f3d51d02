"""A dashboard server that is killed (SIGKILL, out of memory) does not take its running training with
it: the worker finishes, saves the run folder, and ends."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pricecast.training.runs import scan_runs

pytestmark = pytest.mark.slow  # trains a Keras model

ROOT = Path(__file__).resolve().parents[2]

SERVER = """
import sys, time
from dataclasses import replace
from pricecast.data.samples import load_sample
from pricecast.service.dashboard import tune_for_dashboard
from pricecast.jobs.registry import JobRegistry
from pricecast.service.tasks import RUNNER
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec

spec = RunSpec(data="sample:IBM", window=WindowSpec(n=10, k=2), model=ModelSpec(arch="gru", units=(4,)),
               train=TrainSpec(epochs=25, batch_size=8, patience=0), preset="killed-server")
reg = JobRegistry(RUNNER, capacity=1)
job = reg.submit("tab", "train", {"spec": tune_for_dashboard(spec).to_dict()}, candles=load_sample("IBM").iloc[:600])
while len(job.snapshot().training.history) < 1:
    time.sleep(0.1)
print("worker", job.handle.pid, flush=True)
time.sleep(600)
"""


def test_a_killed_servers_training_finishes_and_saves(tmp_path):
    env = {**os.environ, "PRICECAST_HOME": str(tmp_path), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().split()
        assert line[:1] == ["worker"], line
        worker = int(line[1])
        server.send_signal(signal.SIGKILL)  # no clean-up of any kind
        server.wait(30)
        deadline = time.time() + 300
        while _alive(worker) and time.time() < deadline:
            time.sleep(0.5)
        assert not _alive(worker), "the orphaned worker did not end after its training"
    finally:
        if server.poll() is None:
            server.kill()
    listing = scan_runs(tmp_path / "runs")
    assert [r["preset"] for r in listing.rows] == ["killed-server"] and listing.notes == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by init) counts as ended
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
