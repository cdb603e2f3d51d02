"""Which CSV column is time, open, high, low, close, volume: header words in other languages, and a
mapping the user gives (``--columns time=Datum,close=Schluss``; the Data page's column choosers).

A mapping travels with the data's name, so a run, a link or ``predict`` reads the file the same way
later: ``my.csv#columns=time=Datum,close=Schluss`` (before any ``#clean``). :mod:`csv_import` asks
:func:`role_aliases` for the columns of a header; English names stay its own.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from pricecast.data.candles import CandleError
from pricecast.data.csv_bytes import MAX_UNPACKED_BYTES, SAMPLE_BYTES, delimiter, raw_bytes, sample_rows, text_encoding

ROLES: tuple[str, ...] = ("time", "open", "high", "low", "close", "volume")
REF_MARK = "#columns="

# Header words of broker and exchange exports, lower-cased, accents kept and also matched without them.
KNOWN_WORDS: dict[str, tuple[str, ...]] = {
    "time": (
        "datum", "zeit", "handelstag", "datum/zeit",  # German
        "heure", "date/heure", "séance",  # French
        "fecha", "hora", "fecha/hora",  # Spanish
        "日付", "日時", "年月日",  # Japanese
        "일자", "날짜", "일시", "기준일자", "거래일",  # Korean
    ),
    "open": ("eröffnung", "eroeffnung", "eröffnungskurs", "erster", "ouverture", "ouv.", "apertura", "始値", "시가"),
    "high": ("hoch", "tageshoch", "höchst", "haut", "plus haut", "máximo", "max.", "alto", "高値", "고가"),
    "low": ("tief", "tagestief", "tiefst", "bas", "plus bas", "mínimo", "min.", "bajo", "安値", "저가"),
    "close": ("schluss", "schlusskurs", "letzter", "zuletzt", "clôture", "cloture", "dernier", "cierre", "último",
              "ultimo", "終値", "종가", "현재가"),
    "volume": ("volumen", "umsatz", "stücke", "volume", "vol.", "出来高", "거래량"),
}


def _plain(word: str) -> str:
    """Lower case without accents (``Clôture`` -> ``cloture``), so exports without accents match too."""
    decomposed = unicodedata.normalize("NFKD", word.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_WORD_ROLE: dict[str, str] = {_plain(w): role for role, words in KNOWN_WORDS.items() for w in words}


class ColumnMappingError(CandleError):
    """A ``--columns`` mapping that cannot be read or names columns the file does not have."""


def parse_columns(text: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"time=Datum,close=Schluss"`` (or a mapping) -> ``{"time": "Datum", "close": "Schluss"}``, checked."""
    if not text:
        return {}
    pairs = list(text.items()) if isinstance(text, Mapping) else [p.partition("=")[::2] for p in text.split(",")]
    out: dict[str, str] = {}
    for role, column in pairs:
        role, column = role.strip().lower(), str(column).strip()
        if role not in ROLES:
            raise ColumnMappingError(f"--columns: '{role}' is not one of {', '.join(ROLES)} (write e.g. "
                                     "time=Datum,close=Schluss)")
        if not column:
            raise ColumnMappingError(f"--columns: no column named for {role} (write {role}=COLUMN)")
        if role in out:
            raise ColumnMappingError(f"--columns: {role} is given twice")
        out[role] = column
    if len(set(out.values())) < len(out):
        raise ColumnMappingError("--columns: one column is given for two roles")
    return out


def columns_text(mapping: Mapping[str, str]) -> str:
    """The text :func:`parse_columns` reads back, roles in their usual order."""
    return ",".join(f"{r}={mapping[r]}" for r in ROLES if r in mapping)


def split_columns(ref: str) -> tuple[str, dict[str, str]]:
    """``"my.csv#columns=time=Datum,close=Schluss"`` -> ``("my.csv", {...})``; a ref without one: ``(ref, {})``."""
    base, mark, text = ref.partition(REF_MARK)
    return (base, parse_columns(text)) if mark else (ref, {})


def with_columns(ref: str, mapping: Mapping[str, str] | str | None) -> str:
    """``ref`` carrying ``mapping`` (replacing any it had; none given: ``ref`` unchanged). ``#clean``
    stays last."""
    mapping = parse_columns(mapping)
    if not mapping:
        return ref
    clean = ref.lower().endswith("#clean")
    base = split_columns(ref[: -len("#clean")] if clean else ref)[0]
    return base + REF_MARK + columns_text(mapping) + ("#clean" if clean else "")


def role_aliases(header: Sequence[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{role: column}`` for the header's columns that a given ``mapping`` names (matched ignoring
    case and surrounding spaces) or that carry a known non-English header word. The mapping wins;
    a column the mapping names but the header lacks raises :class:`ColumnMappingError`."""
    by_plain = {_plain(c): c for c in header if c}
    out: dict[str, str] = {}
    for column in header:
        role = _WORD_ROLE.get(_plain(column)) if column else None
        if role is not None and role not in out:
            out[role] = column
    for role, wanted in (mapping or {}).items():
        column = by_plain.get(_plain(wanted))
        if column is None:
            raise ColumnMappingError(f"--columns: the file has no column '{wanted}' (for {role}); its columns: "
                                     f"{', '.join(c for c in header if c) or 'none'}")
        out = {r: c for r, c in out.items() if c != column}  # a column named for one role is no other's
        out[role] = column
    return out


MAPPING_HINT = ("say which column is which with --columns time=COLUMN,close=COLUMN (also open, high, low, "
                "volume), or on the Data page")


def header_lookup(header: Sequence[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """:mod:`csv_import`'s name lookup: lower-cased header names -> columns, plus each role (``close``,
    the first name it looks for) -> the column a known non-English word marks (where the header has
    no column of that English name) or the ``mapping`` names (always)."""
    lower = {c.lower(): c for c in header if c}
    for role, column in role_aliases(header, mapping).items():
        if (mapping and role in mapping) or role not in lower:
            lower[role] = column
    return lower


def csv_preview(data: bytes, name: str, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """A CSV's header and first ``rows`` rows as text, for a person choosing which column is which
    (the Data page). Raises :class:`CandleError` for what is not a text CSV at all."""
    data, name = raw_bytes(data, MAX_UNPACKED_BYTES, name)
    data, encoding = text_encoding(data, name)
    lines = [line for line in data[:SAMPLE_BYTES].decode(encoding, errors="replace").splitlines()[:20] if line.strip()]
    if not lines:
        return [], []
    header, sample = sample_rows(data, encoding, delimiter(lines), 0)
    return header, sample[:rows]
