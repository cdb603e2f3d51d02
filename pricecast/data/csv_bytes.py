"""The bytes of a candle CSV and how to read them as text: the file (or upload) read whole, gzip
unpacked up to a cap, UTF-16 re-encoded, binary files refused, the encoding and the field separator
found, and a sample of rows from the start and the end for :mod:`pricecast.data.csv_numbers`.

What the columns are is :mod:`pricecast.data.csv_import`'s business.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from pathlib import Path
from typing import IO

from pricecast.data.candles import CandleError

# A compressed file may unpack to at most this much; plain files have no cap (their size is what it is).
MAX_UNPACKED_BYTES = 512 * 2**20
# Rows one file may hold: parsing costs ~200 bytes of memory per row at its peak (the time column's text
# above all), so this bounds an upload's cost (about 1 GB) whatever its bytes; 5 million rows are
# 9.5 years of 1-minute candles.
MAX_ROWS = 5_000_000
GZIP_MAGIC = b"\x1f\x8b"
SEPARATORS = (",", ";", "\t", "|")
SAMPLE_BYTES = 256 * 1024
_TAIL_BYTES = 64 * 1024
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_BINARY_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "a program"),
    (b"PAR1", "a Parquet file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"BZh", "bzip2-compressed"),
    (b"\xfd7zXZ", "xz-compressed"),
)


def raw_bytes(source: str | Path | bytes | IO, max_bytes: int, given_name: str | None,
              max_rows: int = MAX_ROWS) -> tuple[bytes, str]:
    """The file's bytes (gzip unpacked, at most ``max_bytes`` and ``max_rows`` lines) and the name
    messages use for it."""
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), given_name or "uploaded file"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise CandleError(f"{path}: no such file")
        if path.is_dir():
            raise CandleError(f"{path}: is a folder, not a CSV file")
        name = given_name or path.name
        with path.open("rb") as handle:
            magic = handle.read(2)
            handle.seek(0)
            # a compressed file is unpacked straight from disk, so its packed bytes are never all held
            data = _gunzip(handle, max_bytes, name, max_rows) if magic == GZIP_MAGIC else handle.read()
        return data, name
    else:
        data = source.read()
        name = given_name or str(Path(str(getattr(source, "name", None) or "uploaded file")).name)
        if isinstance(data, str):
            data = data.encode("utf-8")
    if data[:2] == GZIP_MAGIC:  # gzip magic, whatever the file is called
        data = _gunzip(io.BytesIO(data), max_bytes, name, max_rows)
    return data, name


def _gunzip(handle: IO[bytes], max_bytes: int, name: str, max_rows: int = MAX_ROWS) -> bytes:
    """Unpack gzip in chunks, stopping as soon as the output passes ``max_bytes`` or ``max_rows``
    lines: a small file that unpacks to gigabytes (a gzip bomb, or many gzip members one after
    another) costs at most the cap, not all of the memory."""
    out = io.BytesIO()
    lines = 0
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as unpacked:
            while chunk := unpacked.read(1 << 20):
                out.write(chunk)
                lines += chunk.count(b"\n")
                check_rows(lines - 1, name, max_rows)
                if out.tell() > max_bytes:
                    raise CandleError(
                        f"{name}: unpacks to more than {max_bytes / 2**20:,.0f} MB, the limit for compressed "
                        "files; unpack it yourself and load the .csv, or keep only the dates you need")
    except (OSError, EOFError, zlib.error) as exc:
        raise CandleError(f"{name}: not a readable gzip file ({exc})") from None
    return out.getvalue()


def check_rows(rows: int, name: str, max_rows: int = MAX_ROWS) -> None:
    """Refuse a file of more than ``max_rows`` rows before parsing it (the parse is what costs memory)."""
    if rows > max_rows:
        raise CandleError(f"{name}: more than {max_rows:,} rows, the most one file may hold here; keep only the "
                          "dates you need, or use coarser candles (e.g. hourly instead of minutes)")


def text_encoding(data: bytes, name: str) -> tuple[bytes, str]:
    """The bytes to parse and their encoding: UTF-16 and UTF-32 (with or without a byte-order mark,
    either byte order) are re-encoded as UTF-8; binary files are refused."""
    wide = wide_encoding(data[:4096])
    if wide is not None:
        try:
            data = data.decode(wide).encode("utf-8")
        except UnicodeDecodeError:
            raise CandleError(f"{name}: starts like {wide.upper()} text but cannot be read as it; "
                              "save it as UTF-8 text") from None
    head = data[:65536]
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise CandleError(f"{name}: not a text CSV (it is {what}); export the candles as CSV first")
    controls = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
    if b"\x00" in head or controls > len(head) // 100:
        raise CandleError(f"{name}: not a text CSV (it holds binary data, or text in an unsupported encoding); "
                          "choose a .csv file of candles saved as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        return data, "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        if _decodes(data, encoding):
            return data, encoding
    return data, "latin-1"


# Byte-order marks, longest first: UTF-32-LE's begins with UTF-16-LE's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def wide_encoding(head: bytes) -> str | None:
    """The codec of UTF-16 or UTF-32 text, by its byte-order mark or, without one, by where the NUL
    bytes of mostly-ASCII text fall (UTF-16-LE: after every character, -BE: before; UTF-32: three
    of every four bytes); None for anything else."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    if len(head) < 16:
        return None
    lanes4 = [head[i::4] for i in range(4)]
    zero4 = [lane.count(0) / len(lane) for lane in lanes4]
    if zero4[1] > 0.9 and zero4[2] > 0.9 and zero4[3] > 0.9 and zero4[0] < 0.1:
        return "utf-32-le"
    if zero4[0] > 0.9 and zero4[1] > 0.9 and zero4[2] > 0.9 and zero4[3] < 0.1:
        return "utf-32-be"
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _decodes(data: bytes, encoding: str) -> bool:
    # chunk by chunk: checking a 300 MB file must not build a 300 MB string
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for start in range(0, len(data), 1 << 22):
            decoder.decode(data[start : start + (1 << 22)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sample_rows(data: bytes, encoding: str, sep: str, skip: int) -> tuple[list[str], list[list[str]]]:
    """The header and some rows from the start and the end of the file (for the number format)."""
    head = data[:SAMPLE_BYTES].decode(encoding, errors="replace")
    head_lines = head.splitlines()
    if len(data) > SAMPLE_BYTES and head_lines:
        head_lines = head_lines[:-1]  # cut mid-line
    rows = [r for r in csv.reader(head_lines[skip:], delimiter=sep, skipinitialspace=True) if r]
    if len(data) > SAMPLE_BYTES:
        tail = data[-_TAIL_BYTES:].decode(encoding, errors="replace").splitlines()[1:]
        rows += [r for r in csv.reader(tail, delimiter=sep, skipinitialspace=True) if r]
    if not rows:
        return [], []
    header = [c.strip() for c in rows[0]]
    return header, [r for r in rows[1:] if len(r) == len(header)]


def separator_count(line: str) -> int:
    """The most separators of one kind in ``line`` (a URL banner line above the header has fewer)."""
    return max(line.count(sep) for sep in SEPARATORS)


def delimiter(lines: list[str]) -> str:
    """The separator that splits the header and the first rows into the same number of fields
    (more than one); csv.Sniffer prefers ',' and so misreads ``;`` files with decimal commas."""
    best, best_width = None, 1
    for sep in SEPARATORS:
        widths = {len(r) for r in csv.reader(lines, delimiter=sep, skipinitialspace=True) if r}
        if len(widths) == 1 and (width := widths.pop()) > best_width:
            best, best_width = sep, width
    if best is not None:
        return best
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        return ","
