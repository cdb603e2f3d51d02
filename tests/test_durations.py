"""The one duration formatter (CLI progress, every page's time left/taken) and the one age ("last updated ...")."""
from __future__ import annotations

from datetime import timedelta

import pytest

from pricecast.durations import ago, duration


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (0.4, "0 s"), (44.6, "45 s"), (59.4, "59 s"), (59.6, "1 min 00 s"), (65, "1 min 05 s"),
    (3599, "59 min 59 s"), (3600, "1 h 00 min"), (7500, "2 h 05 min"), (90000, "25 h 00 min"),
    (timedelta(minutes=3, seconds=5), "3 min 05 s"), (-3, "0 s"),  # a clock step back never shows "-3 s"
])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_duration_not_known_yet():
    assert duration(None) == "–" and duration(float("nan")) == "–" and duration(float("inf")) == "–"
    assert duration(None, missing="?") == "?"  # the CLI's ETA before the first trial ends


@pytest.mark.parametrize("age, text", [
    (timedelta(seconds=5), "5 s ago"), (timedelta(seconds=89), "89 s ago"), (timedelta(seconds=90), "1 min ago"),
    (timedelta(minutes=89), "89 min ago"), (timedelta(minutes=90), "1 h ago"), (timedelta(hours=47), "47 h ago"),
    (timedelta(hours=48), "2 days ago"), (timedelta(days=400), "400 days ago"), (30.0, "30 s ago"),
    (timedelta(seconds=-10), "0 s ago"),
])
def test_ago(age, text):
    assert ago(age) == text


def test_ago_unknown():
    assert ago(None) == "at an unknown time"
