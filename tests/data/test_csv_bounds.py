"""An upload's parse cost is bounded by its rows, not only its bytes; a file that collapses to almost
nothing is refused; UTF-16 and UTF-32 without byte-order marks are read."""
from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from pricecast.data.candles import CandleError
from pricecast.data.csv_bytes import MAX_ROWS, MAX_UNPACKED_BYTES
from pricecast.data.csv_import import read_candles_csv, read_candles_csv_info

ROW = b"2024-01-01 00:00,1,2,0.5,1,10\n"
TEXT = "time,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,3\n2024-01-02,1.5,2,1,1.7,4\n"


def _members(rows: int) -> bytes:
    """A tiny header member, then a member of rows (gzip readers read members one after another)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = packer.compress(ROW * rows) + packer.flush()
    return gzip.compress(b"time,open,high,low,close,volume\n") + body


def test_a_multi_member_gzip_of_many_rows_is_refused_while_unpacking():
    data = _members(200_000)
    assert len(data) < 200_000
    tracemalloc.start()
    with pytest.raises(CandleError, match=r"rows.csv.gz: more than 50,000 rows, the most one file may hold here"):
        read_candles_csv_info(data, name="rows.csv.gz", max_rows=50_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20  # stopped near 50,000 rows (1.5 MB), not after unpacking 6 MB and parsing it


def test_a_plain_file_of_too_many_rows_is_refused_before_parsing():
    with pytest.raises(CandleError, match="more than 1,000 rows"):
        read_candles_csv(b"time,open,high,low,close,volume\n" + ROW * 1001, name="big.csv", max_rows=1000)
    assert len(read_candles_csv(b"time,open,high,low,close,volume\n" + ROW, name="one.csv", max_rows=1)) == 1


def test_the_row_cap_comes_before_the_byte_cap_for_short_rows():
    # The reported file: 420 MB of 21-byte rows (20 million) fit under the byte cap; the row cap stops it.
    assert MAX_ROWS * len(ROW) < MAX_UNPACKED_BYTES


def test_a_file_that_collapses_to_almost_nothing_is_refused():
    with pytest.raises(CandleError, match=r"same.csv: 5,000 rows leave only 1 candle\(s\) \(4999 duplicated time"):
        read_candles_csv(b"time,open,high,low,close,volume\n" + ROW * 5000, name="same.csv")


@pytest.mark.parametrize("codec", ["utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_wide_encodings_without_or_with_a_byte_order_mark_are_read(codec):
    frame, info = read_candles_csv_info(TEXT.encode(codec), name="wide.csv")
    assert info.columns == ["time", "open", "high", "low", "close", "volume"]
    assert frame["close"].tolist() == [1.5, 1.7]


def test_binary_data_names_the_encoding_possibility():
    with pytest.raises(CandleError, match="binary data, or text in an unsupported encoding"):
        read_candles_csv(bytes(range(256)) * 8, name="x.csv")
