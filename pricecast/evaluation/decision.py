"""Use the network, or fall back to a naive baseline: the decision, made on validation only.

The network always keeps its own best-validation weights and forecasts; this module only decides
which forecast a run *uses* (Next K, ``predict``, the run's ``test`` numbers). The network is used
when it beats the best candidate baseline on the validation windows by more than noise: a one-sided
paired test of the per-window losses (Newey-West over K-1 lags, as overlapping windows share
errors), Bonferroni-corrected for the epochs the best one was picked from on these same windows,
held against ``floor_p``. Which baselines are candidates is the caller's: persistence for prices,
or whatever naive forecasts suit a target (the one with the lowest validation loss is the candidate).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from pricecast.evaluation.leakage import paired_test
from pricecast.evaluation.metrics import baseline_forecasts, evaluate

NETWORK = "network"
# How a baseline is named in a sentence; an unknown name is shown with spaces for underscores.
BASELINE_WORDS = {"persistence": "'no change' (persistence)", "drift": "the drift line",
                  "moving_average": "the moving average"}


def baseline_words(name: str) -> str:
    return BASELINE_WORDS.get(name, name.replace("_", " "))


@dataclass(frozen=True)
class Decision:
    """Which forecast a run uses. ``choice`` is ``"network"`` or the name of ``baseline``, the
    candidate it was held against; ``p_value`` the Bonferroni-adjusted one-sided p of the network's
    gain over it on validation (None when no test was made), ``p_needed`` the bar (``floor_p``)."""

    choice: str
    baseline: str
    p_value: float | None
    p_needed: float | None
    note: str

    @property
    def fell_back(self) -> bool:
        return self.choice != NETWORK

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Decision:
        return cls(str(data.get("choice", NETWORK)), str(data.get("baseline", "persistence")),
                   data.get("p_value"), data.get("p_needed"), str(data.get("note", "")))

    def p_text(self) -> str:
        return "" if self.p_value is None or not np.isfinite(self.p_value) else f"p = {self.p_value:.2g}"

    def network_label(self) -> str:
        """The network's line in a chart: plain ``network`` when it is used, else why not."""
        if not self.fell_back:
            return "network"
        p = f", {self.p_text()}" if self.p_text() else ""
        return f"network (not used: no better than {_short(self.baseline)} on validation{p})"


def _short(name: str) -> str:
    return "no change" if name == "persistence" else name.replace("_", " ")


def window_losses(actual: np.ndarray, forecast: np.ndarray, loss: str = "mse") -> np.ndarray:
    """Per-window loss (mean over the K steps) in the target's units: absolute error for ``mae``,
    squared error otherwise (what RMSE, the reported score, is made of)."""
    err = np.asarray(forecast, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    err = err.reshape(len(err), -1)
    return (np.abs(err) if loss == "mae" else err**2).mean(axis=1)


def decide(actual: np.ndarray, network: np.ndarray, baselines: Mapping[str, np.ndarray], *, epochs: int = 1,
           p_needed: float = 0.05, enabled: bool = True, loss: str = "mse") -> Decision:
    """Decide between the network's validation forecasts and the best of ``baselines`` (name -> (m, k)
    validation forecasts on the same windows as ``actual``). ``epochs``: how many epochs the network's
    weights were picked from on these windows (the Bonferroni factor); ``enabled`` False (the
    ``persistence_floor`` setting off) always keeps the network."""
    if not baselines:
        raise ValueError("decide needs at least one baseline forecast to hold the network against")
    actual = np.asarray(actual, dtype=np.float64)
    scores = {name: float(np.mean(window_losses(actual, f, loss))) if len(actual) else np.nan
              for name, f in baselines.items()}
    finite = {n: s for n, s in scores.items() if np.isfinite(s)}
    candidate = min(finite, key=finite.get) if finite else next(iter(baselines))
    words = baseline_words(candidate)
    if not enabled:
        return Decision(NETWORK, candidate, None, None,
                        f"Using the network: the fallback to {words} is off (the persistence_floor setting).")
    if len(actual) == 0:
        return Decision(NETWORK, candidate, None, None, "Using the network: there is no validation part to decide on.")
    mine = window_losses(actual, network, loss)
    theirs = window_losses(actual, baselines[candidate], loss)
    if not np.isfinite(mine).all():
        return Decision(candidate, candidate, None, p_needed,
                        f"Using {words}, not the network: the network's validation forecasts are not finite.")
    k = actual.shape[1] if actual.ndim > 1 else 1
    t, p = paired_test(theirs - mine, lag=max(int(k) - 1, 1))
    one_sided = (p / 2 if t > 0 else 1 - p / 2) if np.isfinite(p) else 1.0
    epochs = max(int(epochs), 1)
    adjusted = float(min(1.0, one_sided * epochs))
    evidence = (f"paired test p = {adjusted:.2g}" + (f" for the best of {epochs} epochs" if epochs > 1 else "")
                + f", needed below {p_needed:g}")
    if adjusted < p_needed or p_needed >= 1.0:
        return Decision(NETWORK, candidate, adjusted, p_needed,
                        f"Using the network: it beats {words} on validation ({evidence}).")
    worse = "worse" if float(np.mean(mine)) >= float(np.mean(theirs)) else "no better"
    return Decision(candidate, candidate, adjusted, p_needed,
                    f"Using {words}, not the network: the network is {worse} on validation ({evidence}).")


def chosen(decision: Decision, network: np.ndarray, baselines: Mapping[str, np.ndarray]) -> np.ndarray:
    """The forecasts the decision uses: the network's, or its baseline's (from the same windows)."""
    return np.asarray(network if not decision.fell_back else baselines[decision.choice])


def candidates(history: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The naive forecasts a run may fall back to, from each window's target history (m, n): today
    persistence, the floor for prices (a target with better naive baselines passes its own to
    :func:`decide`)."""
    return {"persistence": baseline_forecasts(np.asarray(history, dtype=np.float64), k)["persistence"]}


def decide_on(actual: np.ndarray, network: np.ndarray | None, history: np.ndarray, *, epochs: int = 1,
              p_needed: float = 0.05, enabled: bool = True, loss: str = "mse") -> Decision:
    """:func:`decide` on a validation part's windows (targets ``actual`` (m, k), target ``history``
    (m, n)) against the run's fallback :func:`candidates`; ``network`` None: no validation forecasts."""
    actual = np.asarray(actual, dtype=np.float64)
    k = actual.shape[1] if actual.ndim == 2 else 1
    if network is None or len(actual) == 0:
        actual, network, history = np.empty((0, k)), np.empty((0, k)), np.empty((0, np.shape(history)[-1]))
    return decide(actual, np.asarray(network), candidates(history, k), epochs=epochs, p_needed=p_needed,
                  enabled=enabled, loss=loss)


def scored(actual: np.ndarray, network: np.ndarray, history: np.ndarray, decision: Decision) -> dict:
    """A part's report: :func:`~pricecast.evaluation.metrics.evaluate` of the forecast the decision
    uses (``model``, ``rmse``, ``skill``... as before), plus ``network`` (the network's own rmse, mae,
    mape, direction, per_step, skill, skill_per_step), ``decision`` and ``decision_p``."""
    actual, history = np.asarray(actual), np.asarray(history)
    own = evaluate(actual, network, history)
    if decision.fell_back:
        used = chosen(decision, network, candidates(history, actual.shape[1]))
        report = evaluate(actual, used, history)
    else:
        report = dict(own)
    report["network"] = {**own["model"], "skill": own["skill"], "skill_per_step": own["skill_per_step"]}
    report["decision"] = decision.choice
    report["decision_p"] = decision.p_value
    return report


def decision_of(metrics: Mapping) -> Decision | None:
    """A saved run's decision; None for run folders from before the decision (their model is what
    they used, persistence weights included: ``persistence_floor`` says which)."""
    data = metrics.get("decision")
    return Decision.from_dict(data) if isinstance(data, Mapping) else None


def sentence(metrics: Mapping) -> str:
    """One plain sentence for the top of Train and Results: what the run uses, and why (older run
    folders: their persistence-floor note)."""
    decision = decision_of(metrics)
    if decision is None:
        return str((metrics.get("persistence_floor") or {}).get("note") or "")
    return decision.note + (" The network's own forecast is still shown." if decision.fell_back else "")
