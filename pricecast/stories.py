"""Three one-click demonstrations (the dashboard's Home page): what a network can and cannot forecast.

Each story is a preset with a few settings laid over it, written as the same flat settings a link,
a YAML file or the command line use, so ``python -m pricecast train --preset default --data ...`` (the
story's :meth:`Story.command`) trains exactly what the Home page's button trains. Each trains in well
under 30 s on two CPU cores (docs/BENCHMARKS.md section 9).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from pricecast.catalogue import parse_overrides, with_overrides
from pricecast.presets import get_preset
from pricecast.specs import RunSpec


@dataclass(frozen=True)
class Story:
    key: str
    title: str
    teaser: str  # what the button promises, one line
    lesson: str  # what to look for on Results, in plain words
    preset: str
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> RunSpec:
        return with_overrides(get_preset(self.preset).spec, parse_overrides(self.settings))

    def command(self) -> str:
        """The same training on the command line."""
        args = ["python", "-m", "pricecast", "train", "--preset", self.preset]
        for key, value in self.settings.items():
            args += [f"--{key.replace('_', '-')}", value]
        return shlex.join(args)


STORIES: dict[str, Story] = {s.key: s for s in (
    Story("pattern", "A pattern a network learns",
          "Made-up prices with a daily cycle under a little noise.",
          "The network's line follows the cycle and beats “no change” by far. Then raise the noise on the "
          "Data page and train again: the same network falls back to “no change”, as on real prices.",
          "default", {"data": "synthetic:pattern"}),
    Story("prices", "Real prices: the honest “no”",
          "Apple's daily closing prices, the default small network.",
          "The network ends level with “no change”: day-to-day price moves behave like a random walk, and "
          "the Data page's predictability check said so before any training.",
          "default", {"data": "sample:AAPL"}),
    Story("volume", "Real volume: real skill",
          "Bitcoin's hourly trading volume, with the hour and weekday as inputs.",
          "Volume follows a daily rhythm (quiet nights, busy afternoons), so the network beats “no change” "
          "clearly: there is structure in real markets, just not in the next price.",
          "btc-hourly-volume", {"batch_size": "256"}),
)}
