"""Home's three one-click stories: valid setups on bundled or synthetic data, the same on the command line."""
from __future__ import annotations

import shlex

import pytest

from pricecast.cli.common import spec_from_args
from pricecast.cli.main import build_parser
from pricecast.data.datasets import load_data
from pricecast.presets import labelled
from pricecast.spec_io import validate_spec
from pricecast.stories import STORIES
from pricecast.training.pipeline import prepare


@pytest.mark.parametrize("key", list(STORIES))
def test_each_story_trains_offline_and_its_command_is_the_same_setup(key):
    story = STORIES[key]
    validate_spec(story.spec)
    prepared = prepare(story.spec, load_data(story.spec.data).candles)
    assert len(prepared.windows.train) > 1000 and len(prepared.windows.test) > 100
    args = build_parser().parse_args(shlex.split(story.command())[3:])
    assert spec_from_args(args) == labelled(story.spec)


def test_the_stories_are_a_pattern_real_prices_and_real_volume():
    assert STORIES["pattern"].spec.data.startswith("synthetic:")
    assert STORIES["prices"].spec.window.target == "close"
    assert STORIES["volume"].spec.window.target == "volume" and STORIES["volume"].spec.window.n == 48
