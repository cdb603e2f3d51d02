"""Look-ahead checks: plain-language findings about ways a setup can see the future.

Cheap checks run with every training (:func:`check_prepared`, :func:`check_run`):

- (a) the scaler — the only fitted statistic — was fitted on training rows only, and its statistics
  equal those recomputed from the training rows (catches a scaler fitted on all the data, the
  mistake every seed tutorial made);
- (b) every window's inputs and targets sit where they say, and no window's targets reach into the
  next part (catches overlapping parts and straddling windows); every derived input (returns,
  volatility...) held in the windows is the same when recomputed on the series cut at the end of
  training (:func:`check_features`: a feature that changes when later rows are removed reads them);
  so is the target (volume, range, log return: :func:`check_target`), and every naive baseline's
  forecast is the same when the series after each window's origin is blanked out
  (:func:`check_baselines`: the seasonal naive looks values up by time, and must never find a later one);
- (d) a model whose error equals persistence's within noise is called out: it mostly repeats the
  last price.

The "shuffled time" control (c, :func:`pricecast.training.controls.shuffled_time_control`) trains a
second model and is opt-in; it lives with training, and this module trains nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from pricecast.evaluation.baselines import naive_forecasts
from pricecast.evaluation.metrics import NO_MOVEMENT
from pricecast.prep.features import DERIVED, truncation_leaks
from pricecast.prep.scaling import Scaler
from pricecast.prep.targets import get_target, target_label
from pricecast.prep.windows import PART_NAMES, WindowPart, WindowSet

# |skill| below this is "the same error as persistence" whatever the noise (2% of persistence's RMSE).
SKILL_TIE = 0.02
# Share of windows whose position is re-read from the series (all of them up to this count).
MAX_CHECKED_WINDOWS = 2000


@dataclass(frozen=True)
class Finding:
    """One check's outcome. ``level``: ok (passed), info (worth knowing), warning (fix or distrust)."""

    level: str
    code: str
    message: str
    details: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"level": self.level, "code": self.code, "message": self.message, "details": self.details}

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def problems(findings: list[Finding]) -> list[Finding]:
    """The findings that are not 'ok'."""
    return [f for f in findings if f.level != "ok"]


# ---- (a) scaler -----------------------------------------------------------------------------------
def check_scaler(scaler: Scaler, windows: WindowSet) -> list[Finding]:
    """The scaler's fit rows end at or before the training cut, and its statistics are exactly
    those of the training rows (so a scaler fitted elsewhere with a forged ``fit_rows`` is caught too)."""
    train_rows = windows.train.rows
    a, b = scaler.fit_rows
    out: list[Finding] = []
    if b > train_rows[1]:
        after = b - train_rows[1]
        out.append(Finding(
            "warning", "scaler_after_cut",
            f"The {scaler.kind} scaler was fitted on rows {a}–{b - 1}, but training ends at row {train_rows[1] - 1}: "
            f"it saw {after} rows after the training cut ({_when(windows, train_rows[1])} on), so validation/test "
            f"prices leak into the scaled training data. Fit it on the training rows only.",
            {"fit_rows": [a, b], "train_rows": list(train_rows)}))
    try:
        honest = Scaler.fit(scaler.kind, windows.values, windows.target, scaler.features, scaler.target, train_rows)
    except (ValueError, IndexError) as exc:  # a scaler for other columns: nothing to compare
        return out + [Finding("info", "scaler_not_comparable", f"Could not recompute the scaler on the training rows ({exc}).")]
    worst = _param_mismatch(scaler.params, honest.params)
    if worst is not None:
        name, got, expected = worst
        out.append(Finding(
            "warning", "scaler_statistics",
            f"The scaler's statistics are not those of the training rows ({name} is {got:.6g}, the training rows "
            f"give {expected:.6g}): it was fitted on other data — if that includes later prices, the model sees "
            f"the future through the scaling.",
            {"param": name, "scaler": got, "training_rows": expected}))
    if not out:
        out.append(Finding("ok", "scaler", f"Scaler ({scaler.kind}) fitted on the training rows only: its statistics "
                                           f"match those recomputed from the training rows."))
    return out


def _param_mismatch(params: dict, honest: dict) -> tuple[str, float, float] | None:
    for name in sorted(set(params) | set(honest)):
        got = np.asarray(params.get(name, []), dtype=np.float64).ravel()
        exp = np.asarray(honest.get(name, []), dtype=np.float64).ravel()
        if got.shape != exp.shape:
            return name, float(got[0]) if got.size else math.nan, float(exp[0]) if exp.size else math.nan
        if not np.allclose(got, exp, rtol=1e-9, atol=1e-12, equal_nan=True):
            i = int(np.argmax(np.abs(got - exp)))
            return name, float(got[i]), float(exp[i])
    return None


# ---- (b) windows ----------------------------------------------------------------------------------
def check_windows(windows: WindowSet) -> list[Finding]:
    """Every part's targets lie inside its own rows, parts don't overlap, and each window's
    inputs/targets are the series' values at the rows its ``origin`` names.

    Inputs may reach back before a part's first row (known history at forecast time is fine);
    targets may never reach past its last row into the next part."""
    out: list[Finding] = []
    n, k = windows.spec.n, windows.spec.k
    parts = [windows.parts[p] for p in PART_NAMES if p in windows.parts]
    parts += [p for name, p in windows.parts.items() if name not in PART_NAMES]
    for part in parts:
        out += _check_part(windows, part, n, k)
    ordered = sorted((p for p in parts if p.rows[1] > p.rows[0]), key=lambda p: p.rows[0])
    for early, late in zip(ordered, ordered[1:]):
        if early.rows[1] > late.rows[0]:
            shared = early.rows[1] - late.rows[0]
            out.append(Finding(
                "warning", "parts_overlap",
                f"The {_label(early.name)} part (rows {early.rows[0]}–{early.rows[1] - 1}) overlaps the "
                f"{_label(late.name)} part (from row {late.rows[0]}): {shared} rows are in both, so the model is "
                f"scored on prices it was fitted on.", {"parts": [early.name, late.name], "rows": shared}))
    if not problems(out):
        out.append(Finding("ok", "windows", f"No window's targets reach into the next part "
                                            f"({', '.join(f'{p.name} {len(p)}' for p in parts)} windows checked)."))
    return out


def _check_part(windows: WindowSet, part: WindowPart, n: int, k: int) -> list[Finding]:
    if len(part) == 0:
        return []
    a, b = part.rows
    k = int(np.asarray(part.y).shape[1]) if np.ndim(part.y) == 2 else k  # parts may differ (recursive: K=1 training)
    origin = np.asarray(part.origin, dtype=np.int64)
    out: list[Finding] = []
    late = origin + k >= b
    early = origin + 1 < a
    if late.any():
        i = int(np.argmax(late))
        out.append(Finding(
            "warning", "targets_straddle",
            f"{int(late.sum())} {_label(part.name)} window(s) have targets after the part's last row "
            f"{b - 1} (first: window {i} ends at row {int(origin[i]) + k}, "
            f"{_when(windows, min(int(origin[i]) + k, len(windows.times) - 1))}): "
            f"they reach into the next part, whose prices the model then trains or tunes on.",
            {"part": part.name, "windows": int(late.sum())}))
    if early.any():
        out.append(Finding(
            "warning", "targets_before_part",
            f"{int(early.sum())} {_label(part.name)} window(s) have targets before the part's first row {a}: "
            f"they belong to the previous part.", {"part": part.name, "windows": int(early.sum())}))
    if (origin - n + 1 < 0).any():
        out.append(Finding("warning", "inputs_before_series",
                           f"Some {_label(part.name)} windows start before the first candle.", {"part": part.name}))
    # Re-read a sample of windows from the series: windows whose stated origin is not where their
    # values came from (hand-made or shifted arrays) can hide any leak from the checks above.
    rows = len(windows.target)
    ok = (origin - n + 1 >= 0) & (origin + k < rows)
    idx = np.flatnonzero(ok)
    if idx.size > MAX_CHECKED_WINDOWS:
        idx = idx[np.linspace(0, idx.size - 1, MAX_CHECKED_WINDOWS).astype(int)]
    if idx.size:
        o = origin[idx]
        want_y = windows.target[o[:, None] + np.arange(1, k + 1)[None, :]]
        want_x_last = windows.values[o]
        y = np.asarray(part.y)[idx]
        x_last = np.asarray(part.x)[idx, -1, :]
        bad = ~np.isclose(y, want_y, equal_nan=True).all(axis=1) | ~np.isclose(x_last, want_x_last, equal_nan=True).all(axis=1)
        if bad.any():
            out.append(Finding(
                "warning", "windows_misplaced",
                f"{int(bad.sum())} {_label(part.name)} window(s) hold values that are not the series' values at "
                f"their stated position: their targets may come from somewhere else in time.",
                {"part": part.name, "windows": int(bad.sum())}))
    return out


# ---- entry points for train() and the CLI --------------------------------------------------------
# What the checks read of training's ``Prepared`` and ``Run``: judging needs no training code.
class PreparedSetup(Protocol):
    candles: pd.DataFrame
    scaler: Scaler
    windows: WindowSet


class PredictedRun(Protocol):
    predictions: pd.DataFrame  # the long table of fitting.prediction_rows, with a "part" column


def check_prepared(prepared: PreparedSetup, include_ok: bool = False) -> list[Finding]:
    """Cheap checks (a) and (b) on a prepared setup. Only problems unless ``include_ok``."""
    findings = (check_scaler(prepared.scaler, prepared.windows) + check_windows(prepared.windows)
                + check_features(prepared.candles, prepared.windows) + check_target(prepared.candles, prepared.windows)
                + check_baselines(prepared.windows))
    return findings if include_ok else problems(findings)


def check_features(candles: pd.DataFrame, windows: WindowSet) -> list[Finding]:
    """The derived inputs in ``windows`` equal the same features recomputed on the candles up to the
    training cut only (nothing when the setup uses candle columns alone)."""
    names = windows.spec.features
    derived = [n for n in names if n in DERIVED]
    if not derived:
        return []
    cut = windows.train.rows[1]
    leaks = truncation_leaks(candles, windows.values, names, cut)
    if not leaks:
        return [Finding("ok", "features", f"The derived inputs ({', '.join(derived)}) are the same when recomputed "
                                          f"on the data up to the end of training: they use only past rows.")]
    return [Finding("warning", "feature_lookahead",
                    f"The input '{name}' reads the future: at row {row} ({_when(windows, row)}) it holds {held:.6g}, "
                    f"but recomputed on the data up to the end of training it is {honest:.6g}. A feature must use "
                    f"only rows up to its own time.", {"feature": name, "row": row, "held": held, "recomputed": honest})
            for name, (row, held, honest) in leaks.items()]


def check_target(candles: pd.DataFrame, windows: WindowSet) -> list[Finding]:
    """The target held in ``windows`` equals the target recomputed on the candles up to the training cut."""
    name = windows.spec.target
    cut = windows.train.rows[1]
    if cut < 1:
        return []
    held = np.asarray(windows.target[:cut], dtype=np.float64)
    honest = get_target(name).compute(candles.iloc[:cut])
    same = np.isclose(held, honest, rtol=1e-9, atol=1e-12, equal_nan=True)
    if same.all():
        return [Finding("ok", "target", f"The target ({name}) is the same when recomputed on the data up to the end "
                                        f"of training: it uses only past rows.")]
    row = int(np.argmin(same))
    return [Finding("warning", "target_lookahead",
                    f"The target '{name}' reads the future: at row {row} ({_when(windows, row)}) it holds "
                    f"{held[row]:.6g}, recomputed on the data up to the end of training {honest[row]:.6g}.",
                    {"target": name, "row": row})]


def check_baselines(windows: WindowSet, per_part: int = 25) -> list[Finding]:
    """Each naive baseline, for up to ``per_part`` windows of every part, gives the same forecast when
    every value after the window's origin is blanked (NaN): a baseline that reads a later value
    (a seasonal lookup by the wrong time) changes or turns NaN."""
    name, times, series = windows.spec.target, windows.times, np.asarray(windows.target, dtype=np.float64)
    bad: list[str] = []
    for part in windows.parts.values():
        if not len(part):
            continue
        k = part.y.shape[1]
        picks = np.unique(np.linspace(0, len(part) - 1, min(per_part, len(part))).astype(int))
        full = naive_forecasts(name, np.asarray(part.history)[picks], k, times, series, part.origin[picks])
        for j, i in enumerate(picks):
            blanked = series.copy()
            blanked[int(part.origin[i]) + 1:] = np.nan
            alone = naive_forecasts(name, np.asarray(part.history)[i:i + 1], k, times, blanked, part.origin[i:i + 1])
            bad += [b for b, fc in alone.items()
                    if b not in bad and not np.allclose(fc, full[b][j:j + 1], equal_nan=False)]
    if bad:
        return [Finding("warning", "baseline_lookahead",
                        f"The naive baseline(s) {', '.join(bad)} read values after the forecast's origin: their "
                        f"scores, and any choice between them, are not honest.", {"baselines": bad})]
    return [Finding("ok", "baselines", "The naive baselines use only values up to each forecast's origin.")]


def check_run(run: PredictedRun, include_ok: bool = False) -> list[Finding]:
    """Check (d) on a finished run's test part: does the model mostly repeat the last value?"""
    preds = run.predictions
    if preds is None or len(preds) == 0 or "test" not in set(preds["part"]):
        return []
    test = preds[preds["part"] == "test"].sort_values(["origin_time", "step"])
    k = int(test["step"].max())
    actual = test["actual"].to_numpy().reshape(-1, k)
    # the network's own forecast where the run kept it apart (a run that fell back uses persistence)
    predicted = test["network" if "network" in test else "predicted"].to_numpy().reshape(-1, k)
    last = test["persistence"].to_numpy().reshape(-1, k)[:, 0]
    spec = getattr(run, "spec", None)
    findings = check_predictions(actual, predicted, last, target_label(spec.window.target) if spec else "price")
    return findings if include_ok else problems(findings)


def check_predictions(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray,
                      label: str = "price") -> list[Finding]:
    """Model vs persistence on the same windows: skill, a paired test on per-window squared errors
    (Newey-West variance, because overlapping windows share errors), and the size of the moves the
    model predicts compared with the real ones. ``label``: what the target is called ("price",
    "volume", ...: :func:`pricecast.prep.targets.target_label`)."""
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    last = np.asarray(last, dtype=np.float64).reshape(-1, 1)
    if actual.size == 0:
        return []
    k = actual.shape[1]
    se_model = ((predicted - actual) ** 2).mean(axis=1)
    se_pers = ((last - actual) ** 2).mean(axis=1)
    rmse, prmse = math.sqrt(se_model.mean()), math.sqrt(se_pers.mean())
    if prmse == 0:
        return [Finding("warning", "no_movement", f"The test part has {NO_MOVEMENT}.",
                        {"skill": math.nan, "rmse": rmse, "persistence_rmse": prmse})]
    sk = 1.0 - rmse / prmse
    t, p = paired_test(se_model - se_pers, lag=max(k - 1, 1))
    move_pred = float(np.mean(np.abs(predicted - last)))
    move_real = float(np.mean(np.abs(actual - last)))
    ratio = move_pred / move_real if move_real > 0 else math.nan
    details = {"skill": sk, "rmse": rmse, "persistence_rmse": prmse, "t": t, "p_value": p, "move_ratio": ratio}
    values = "prices" if label == "price" else "values"
    moves = (f"its forecasts move on average {ratio:.0%} as far from the last {label} as the real {values} do"
             if np.isfinite(ratio) else "")
    naive = "tomorrow = today" if label == "price" else f"the next {label} = the last"
    if np.isfinite(sk) and abs(sk) < SKILL_TIE:
        return [Finding(
            "warning", "repeats_last_price",
            f"This model mostly repeats the last {label}: its test RMSE ({rmse:.4g}) is within {abs(sk):.1%} of "
            f"persistence's ({prmse:.4g}, {naive}){'; ' + moves if moves else ''}. It has learned "
            f"little beyond 'no change'.", details)]
    if np.isfinite(p) and p > 0.05:
        side = "better" if sk > 0 else "worse"
        return [Finding(
            "info", "within_noise",
            f"The model scores {abs(sk):.1%} {side} than persistence on the test part, but that difference is "
            f"within noise (paired test p = {p:.2f}){'; ' + moves if moves else ''}.", details)]
    verdict = "beats" if sk > 0 else "loses to"
    return [Finding("ok" if sk > 0 else "warning", "vs_persistence",
                    f"The model {verdict} persistence by {abs(sk):.1%} RMSE on the test part (paired test p = {p:.3f}).",
                    details)]


def paired_test(diff: np.ndarray, lag: int = 1) -> tuple[float, float]:
    """Diebold–Mariano style t statistic and two-sided p-value of mean(diff) = 0, with a Newey–West
    long-run variance over ``lag`` lags (errors of overlapping K-step windows are correlated)."""
    d = np.asarray(diff, dtype=np.float64)
    d = d[np.isfinite(d)]
    m = d.size
    if m < 3:
        return math.nan, math.nan
    c = d - d.mean()
    var = float(c @ c) / m
    for j in range(1, min(lag, m - 1) + 1):
        var += 2 * (1 - j / (lag + 1)) * float(c[j:] @ c[:-j]) / m
    if var <= 0:
        return (0.0, 1.0) if d.mean() == 0 else (math.copysign(math.inf, d.mean()), 0.0)
    t = float(d.mean() / math.sqrt(var / m))
    return t, float(math.erfc(abs(t) / math.sqrt(2)))


# ---- helpers --------------------------------------------------------------------------------------
def _label(name: str) -> str:
    return {"train": "training", "val": "validation", "test": "test"}.get(name, name)


def _when(windows: WindowSet, row: int) -> str:
    try:
        return str(windows.times[row].date()) if hasattr(windows.times[row], "date") else str(windows.times[row])
    except (IndexError, AttributeError):
        return f"row {row}"

