"""`pricecast train` shows pricecast's own lines on stderr, not TensorFlow's C++ log (whose start-up
lines absl writes before it has read TF_CPP_MIN_LOG_LEVEL), and keeps lines that are not its log."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from pricecast.training.backend import _is_tf_chatter

TF_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]|absl::InitializeLog")
START = ("I0000 00:00:1795609381.554029   10301 port.cc:153] oneDNN custom operations are on.\n")
CUINIT = "E0000 00:00:1795609294.523829    8385 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n"
FATAL = "F0000 00:00:1795609294.523829    8385 gpu_device.cc:12] Check failed: device\n"


def test_only_tensorflow_log_lines_below_the_level_are_held_back():
    assert _is_tf_chatter(START, 2) and _is_tf_chatter(CUINIT, 3)
    assert _is_tf_chatter("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n", 1)
    assert not _is_tf_chatter(CUINIT, 2)  # the user asked for errors
    assert not _is_tf_chatter(START, 0)  # TF_CPP_MIN_LOG_LEVEL=0: everything
    assert not _is_tf_chatter(FATAL, 3)
    assert not _is_tf_chatter("UserWarning: something in a Python module\n", 3)
    assert not _is_tf_chatter("Traceback (most recent call last):\n", 3)


@pytest.mark.slow
def test_cli_training_stderr_has_no_tensorflow_or_absl_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # pricecast's own default
    env.update(PRICECAST_HOME=str(tmp_path), CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-m", "pricecast", "train", "--data", "sample:AAPL", "--epochs", "1",
                           "--units", "4", "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert [line for line in lines if TF_LINE.search(line)] == []
    assert any(line.startswith("training ") for line in lines)  # our own messages stay
    assert any(line.startswith("epoch 1/1") for line in lines)
