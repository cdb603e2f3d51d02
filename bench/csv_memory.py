"""Peak memory of reading a large candle CSV (python bench/csv_memory.py [MB]).

Writes a Yahoo-layout CSV of about MB megabytes (default 60) to a temporary folder, reads it with
``read_candles_csv`` in a fresh process and prints the file size, the peak resident memory
(ru_maxrss) above the interpreter's baseline and the ratio. Run before/after a change to compare.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def write_csv(path: Path, megabytes: float) -> None:
    rows = int(megabytes * 1e6 / 75)  # ~75 bytes per Yahoo-style row
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, rows)))
    frame = pd.DataFrame({
        "Date": pd.date_range("1990-01-01", periods=rows, freq="min").strftime("%Y-%m-%d %H:%M:%S"),
        "Open": close.round(4), "High": (close * 1.001).round(4), "Low": (close * 0.999).round(4),
        "Close": close.round(4), "Adj Close": close.round(4), "Volume": rng.integers(1, 10**6, rows),
    })
    frame.to_csv(path, index=False)


CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
import pandas, numpy
from pricecast.data.csv_import import read_candles_csv
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
frame = read_candles_csv({path!r})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(frame), base, peak)
"""


def main() -> None:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        write_csv(path, megabytes)
        size = path.stat().st_size
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), path=str(path))],
                             capture_output=True, text=True, check=True).stdout.split()
    rows, base, peak = int(out[0]), int(out[1]) * 1024, int(out[2]) * 1024
    extra = peak - base
    print(f"file {size / 1e6:.1f} MB, {rows:,} rows: peak RSS +{extra / 1e6:.0f} MB over the interpreter "
          f"({extra / size:.1f}x the file size)")


if __name__ == "__main__":
    main()
