"""Issue 12, items 1-5, 11, 13: hostile or careless data, files, uploads and links. Each test is
named after its item and fails without the fix (the reproductions are the issue's)."""
from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pricecast.candles import CandleError
from pricecast.csv_import import read_candles_csv, read_candles_csv_info

ROOT = Path(__file__).resolve().parents[1]


# ---- item 1: European CSVs and OHLC consistency ------------------------------------------------
@pytest.mark.parametrize("case", ["semicolon_decimal_comma", "thousands_point", "tab_separated", "quoted_comma_sep"])
def test_item1_european_decimal_commas_read_as_decimals(case):
    rows = {
        "semicolon_decimal_comma": ("time;open;high;low;close\n", "{d};100,13;101,5;99,87;100,5\n"),
        "thousands_point": ("Date;Open;High;Low;Close;Volume\n", "{d};1.100,13;1.101,5;1.099,87;1.100,5;12.345,5\n"),
        "tab_separated": ("time\topen\thigh\tlow\tclose\n", "{d}\t100,13\t101,5\t99,87\t100,5\n"),
        "quoted_comma_sep": ("time,open,high,low,close\n", '{d},"100,13","101,5","99,87","100,5"\n'),
    }[case]
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    text = rows[0] + "".join(rows[1].format(d=d.date().isoformat()) for d in days)
    frame, info = read_candles_csv_info(text.encode(), name="eu.csv")
    offset = 1000 if case == "thousands_point" else 0
    assert frame["close"].iloc[0] == pytest.approx(offset + 100.5)
    assert frame["open"].iloc[0] == pytest.approx(offset + 100.13) and frame["low"].iloc[0] == pytest.approx(offset + 99.87)
    if case == "thousands_point":
        assert frame["volume"].iloc[0] == pytest.approx(12345.5)
    assert any("decimal comma" in n for n in info.notes)


def test_item1_mixed_decimal_separators_are_refused():
    text = "time;open;high;low;close\n2024-01-01;100,5;101;99;100\n2024-01-02;100.5;101;99;100\n"
    with pytest.raises(CandleError, match="mixes decimal commas .* and decimal points"):
        read_candles_csv(text.encode(), name="mixed.csv")


def test_item1_high_below_low_rows_dropped_or_refused():
    good = "".join(f"2024-02-{d:02d},100,101,99,100\n" for d in range(2, 29))
    frame, info = read_candles_csv_info(f"time,open,high,low,close\n2024-02-01,100,99,101,100\n{good}".encode(),
                                        name="glitch.csv")
    assert len(frame) == 27 and frame.index[0] == pd.Timestamp("2024-02-02", tz="UTC")
    assert any("1 row(s) with the high below the low dropped (line(s) 2)" in n for n in info.notes)
    swapped = "".join(f"2024-02-{d:02d},100,{99 if d <= 10 else 101},{101 if d <= 10 else 99},100\n" for d in range(1, 29))
    with pytest.raises(CandleError, match=r"rows have a high below the low \(line\(s\) 2, 3, 4, 5, 6 …\)"):
        read_candles_csv(f"time,open,high,low,close\n{swapped}".encode(), name="swapped.csv")


# ---- item 3: gzip bombs and memory ---------------------------------------------------------------
def _gzip_stream(head: bytes, filler: bytes, megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    parts = [packer.compress(head)]
    parts += [packer.compress(filler * (2**20 // len(filler))) for _ in range(megabytes)]
    return b"".join(parts) + packer.flush()


def test_item3_gzip_unpacked_size_is_capped():
    bomb = _gzip_stream(b"time,open,high,low,close\n", b"2024-01-01,1,2,0.5,1\n", 8)
    assert len(bomb) < 100_000
    with pytest.raises(CandleError, match=r"bomb.csv.gz: unpacks to more than 2 MB, the limit for compressed files"):
        read_candles_csv_info(bomb, name="bomb.csv.gz", max_unpacked_bytes=2 * 2**20)
    ok = gzip.compress(b"time,open,high,low,close\n2024-01-01,1,2,0.5,1\n2024-01-02,1,2,0.5,1.5\n")
    assert len(read_candles_csv_info(ok, name="ok.csv.gz", max_unpacked_bytes=2 * 2**20)[0]) == 2


def test_item3_gzip_cap_also_applies_to_files_on_disk(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(_gzip_stream(b"time,close\n", b"9" * 64, 4))
    with pytest.raises(CandleError, match="unpacks to more than 1 MB"):
        read_candles_csv_info(path, max_unpacked_bytes=2**20)


def test_item3_plain_csv_reads_only_the_needed_columns_as_floats():
    # Ten wide text columns the reader does not need: reading them was most of the memory.
    import tracemalloc

    rows = 20_000
    close = np.linspace(100, 200, rows)
    frame = pd.DataFrame({"Date": pd.date_range("2000-01-01", periods=rows, freq="min").strftime("%Y-%m-%d %H:%M"),
                          "Close": close.round(3), **{f"note{i}": ["x" * 40] * rows for i in range(10)}})
    data = frame.to_csv(index=False).encode()
    tracemalloc.start()
    out = read_candles_csv(data, name="wide.csv")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(out) == rows
    assert peak < 1.5 * len(data), f"peak {peak / 1e6:.1f} MB for a {len(data) / 1e6:.1f} MB file"


# ---- item 13: UTF-16 and binary files ------------------------------------------------------------
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_item13_utf16_csv_decodes(codec):
    text = "time,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,3\n2024-01-02,1.5,2,1,1.7,4\n"
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data  # with its byte-order mark
    frame, info = read_candles_csv_info(data, name="u16.csv")
    assert info.columns == ["time", "open", "high", "low", "close", "volume"]
    assert frame["close"].tolist() == [1.5, 1.7]


@pytest.mark.parametrize("blob,what", [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(400), "a program"),
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "Excel .xlsx"),
    (bytes(range(256)) * 8, "binary data"),
], ids=["elf", "xlsx", "bytes"])
def test_item13_binary_files_are_not_a_text_csv(blob, what):
    with pytest.raises(CandleError, match=f"x.csv: not a text CSV .*{what}"):
        read_candles_csv(blob, name="x.csv")
