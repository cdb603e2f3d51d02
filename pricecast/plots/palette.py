"""Every chart's colours, in one place: a series keeps its colour from tab to tab and page to page
(the network red, persistence grey, drift purple ... on Results, its backtest, Train, Runs and the
HTML report alike), and trials or runs set side by side take theirs from one cycle.
"""
from __future__ import annotations

# Named series: the network's forecast, the actual values and each naive baseline
# (evaluation.baselines.LABELS). "predicted" and "model" are the network's other names in figures' columns.
SERIES: dict[str, str] = {
    "actual": "#1f2937",
    "network": "#d62728",  # the seed's red
    "persistence": "#7f7f7f",
    "drift": "#9467bd",
    "moving_average": "#2ca02c",
    "seasonal_day": "#8c564b",
    "seasonal_week": "#e377c2",
    "ewma": "#17becf",
    "zero": "#bcbd22",
    "loss": "#1f77b4",
    "val_loss": "#ff7f0e",
}
_ALIASES = {"predicted": "network", "model": "network"}

# The network's interval band: its red, see-through.
BAND = "rgba(214,39,40,0.15)"
# Meanings rather than series: above / below a line that matters (skill per step), a value outside
# a band (autocorrelation bars), the best epoch.
GOOD = "#2ca02c"
BAD = "#d62728"
OUTSIDE = "#d62728"
NEUTRAL = "#7f7f7f"

# Trials' settings and compared runs, in order: distinct, and without persistence's grey, which
# always means "no change" beside them.
CYCLE: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                          "#17becf")


def color(name: str) -> str | None:
    """The colour of the series ``name`` ("persistence", "drift", "model", ...); None for one not named here."""
    return SERIES.get(_ALIASES.get(name, name))


def cycle(i: int) -> str:
    """The ``i``-th trial's, setting's or run's colour (wrapping round)."""
    return CYCLE[i % len(CYCLE)]
