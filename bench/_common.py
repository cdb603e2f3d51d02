"""Shared helpers for the benchmarks: machine details, medians, tables, JSON results, real data,
and the seed tutorial's PastSampler (copied verbatim below)."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"
BTC_CSV = SHARED_DATA / "btc_usd_daily_2015_2016_investing.csv"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as `python bench/x.py` from the repo root without installing

from pricecast.jsonable import jsonable  # noqa: E402  (after the path line above)


# ---- copied verbatim from ../shared/seeds/000_3ba80f350dfe8200.txt (tutorial 000, khuangaf/
# ---- CryptocurrencyPrediction, Korean translation), comments and all (the U+FFFD characters are
# ---- in the seed file itself). With sliding_window=True it is the seed's windowing, materialised. ----
class PastSampler:
    '''
    학습 ��터(training samples)를 과거 ��터를 �용해서 미�를 예측할 수 ��� 형태를 갖춰�니다.
    '''

    def __init__(self, N, K, sliding_window = True):
        '''
        N개� 과거 ��터를 �용해 K개� 미�를 예측합니다.
        '''
        self.K = K
        self.N = N
        self.sliding_window = sliding_window

    def transform(self, A):
        M = self.N + self.K     #한개� row당 ��터 개수 (sample + target)
        #indexes
        if self.sliding_window:
            I = np.arange(M) + np.arange(A.shape[0] - M + 1).reshape(-1, 1)
        else:
            if A.shape[0]%M == 0:
                I = np.arange(M)+np.arange(0,A.shape[0],M).reshape(-1,1)

            else:
                I = np.arange(M)+np.arange(0,A.shape[0] -M,M).reshape(-1,1)

        B = A[I].reshape(-1, M * A.shape[1], A.shape[2])
        ci = self.N * A.shape[1]    #한 ��터당 feature 개수
        return B[:, :ci], B[:, ci:] #학습 matrix, 타겟 matrix
# ---- end of the verbatim copy ----


def median(values: Iterable[float]) -> float:
    values = list(values)
    return float(statistics.median(values)) if values else float("nan")


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM and library versions, for the results and BENCHMARKS.md."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": ram_gb,
                            "python": platform.python_version(), "numpy": np.__version__}
    for mod in ("pandas", "keras", "tensorflow", "streamlit", "plotly", "torch", "jax"):
        if mod in sys.modules:
            info[mod] = getattr(sys.modules[mod], "__version__", "?")
    return info


def mem_available_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def save_results(name: str, payload: dict, path: Path | None = None) -> Path:
    """``payload`` with the date and machine, as JSON in ``path`` (default ``bench/results/NAME.json``)."""
    path = Path(path) if path else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **payload}
    # Strict JSON (NaN as null), as run metrics: anything else is written as its text.
    path.write_text(json.dumps(jsonable(payload), indent=2, default=str))
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain fixed-width table (no dependencies)."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "-"
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return "" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def load_btc():
    """The real BTC/USD daily series (investing.com layout) as canonical candles, or None if absent."""
    if not BTC_CSV.exists():
        return None
    try:
        from pricecast.data.csv_import import read_candles_csv
    except ImportError:  # pragma: no cover - csv_import was written concurrently
        return _parse_investing(BTC_CSV)
    return read_candles_csv(BTC_CSV)


def _parse_investing(path: Path):
    """Fallback parser: newest first, "1,006.5" prices, "13.44K" volumes, "Jan 01, 2017" dates."""
    import pandas as pd

    raw = pd.read_csv(path, encoding="utf-8-sig", dtype=str)

    def num(s):
        return pd.to_numeric(s.str.replace(",", ""), errors="coerce")

    def vol(s):
        mult = s.str[-1].map({"K": 1e3, "M": 1e6, "B": 1e9}).fillna(1.0)
        return pd.to_numeric(s.str.rstrip("KMB").str.replace(",", ""), errors="coerce") * mult

    frame = pd.DataFrame({"open": num(raw["Open"]), "high": num(raw["High"]), "low": num(raw["Low"]),
                          "close": num(raw["Price"]), "volume": vol(raw["Vol."]).fillna(0.0)})
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw["Date"], format="%b %d, %Y", utc=True), name="time")
    return frame.sort_index()


def synthetic_candles(rows: int, seed: int = 0):
    """A random-walk OHLCV frame (only for the windowing benchmark, where the size is the point)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, rows)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.0005, rows)) * close
    frame = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                          "low": np.minimum(open_, close) - spread, "close": close,
                          "volume": rng.gamma(2.0, 50.0, rows)},
                         index=pd.date_range("2015-01-01", periods=rows, freq="5min", tz="UTC", name="time"))
    return frame
