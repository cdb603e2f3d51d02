"""Data: choose the price history (bundled, exchange, Yahoo, CSV), the date range; see candles and a summary."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from pricecast.data.candles import summarize
from pricecast.data.datasets import kind_of
from pricecast.data.quality import clean_ref, is_daily, quality_report, split_ref, when
from pricecast.data.samples import CATALOGUE
from pricecast.errors import PricecastError
from ui import charts, common, state
from ui.common import HELP

SOURCES = {
    "sample": "Bundled series (offline)",
    "exchange": "Crypto exchange",
    "yahoo": "Yahoo Finance",
    "csv": "Upload a CSV file",
}


OFFLINE_HINT = (" — Without internet (or while the site is unreachable), use a bundled series or a CSV file "
                "instead: choose them under Source above.")


def _source_of(ref: str) -> str:
    try:
        kind = kind_of(ref)
    except ValueError:  # not a data reference at all
        return "sample"
    if kind == "market":
        if ref.lower().startswith("csv:"):  # a CSV stored with `pricecast data import --store NAME`
            return "csv"
        return "yahoo" if ref.lower().startswith("yahoo:") else "exchange"
    return kind


def _market_parts(ref: str, default_source: str, default_symbol: str, default_tf: str) -> tuple[str, str, str]:
    try:
        from pricecast.data.market import parse_market_ref

        parsed = parse_market_ref(split_ref(ref)[0])
        return parsed.source, parsed.symbol, parsed.timeframe
    except ValueError:  # not a market ref: start from the defaults
        return default_source, default_symbol, default_tf


@st.cache_data(show_spinner=False)
def _exchanges() -> list[str]:
    from pricecast.data.market import list_exchanges

    return list_exchanges()


@st.cache_data(show_spinner=False)
def _timeframes(exchange: str) -> list[str]:
    from pricecast.data.market import list_timeframes

    return list_timeframes(exchange)


def _use(ref: str) -> None:
    """Switch to the series ``ref``; staying on the same series keeps its '#clean' cut."""
    spec = state.current_spec()
    if split_ref(spec.data)[0] != split_ref(ref)[0]:
        state.set_spec(spec.replace(data=ref))


def _download(ref: str) -> None:
    """Fetch (or refresh) market candles over the network into the local cache."""
    from pricecast.data.market import MarketDataError, load_market

    since, until = state.data_range()
    with st.spinner(f"Downloading {common.md(ref)} … (candles already on this computer are not fetched again)"):
        try:
            result = load_market(ref, since=since, until=until)
        except MarketDataError as exc:
            st.error(f"{common.plain(exc)}{OFFLINE_HINT}")
            return
        except OSError as exc:  # the cache folder cannot be read or written
            st.error(f"Could not download {common.md(ref)}: {common.plain(exc)}")
            return
    for warning in result.warnings:
        st.warning(common.md(warning))
    state.bump_data()
    _use(ref)
    st.success(f"{len(result.candles):,} candles ready ({result.fetched_rows:,} new from the network).")


def _market_form(kind: str) -> None:
    spec = state.current_spec()
    if kind == "exchange":
        try:
            exchanges = _exchanges()
        except (ImportError, PricecastError) as exc:  # ccxt missing or broken
            st.error(f"Exchange support is not available: {common.plain(exc)}")
            return
        source, symbol, tf = _market_parts(spec.data, "binance", "BTC/USDT", "1h")
        if source == "yahoo" or source not in exchanges:
            source, symbol, tf = "binance", "BTC/USDT", "1h"
        c1, c2, c3 = st.columns([1, 1, 1])
        exchange = c1.selectbox("Exchange", exchanges, index=exchanges.index(source) if source in exchanges else 0,
                                help=HELP["exchange"], key="data_exchange")
        try:
            timeframes = _timeframes(exchange)
        except PricecastError as exc:
            st.error(common.plain(exc))
            return
        found = st.session_state.get("data_found_symbols", {}).get(exchange)
        if found:
            symbol = c2.selectbox("Market (type to search)", found, index=found.index(symbol) if symbol in found else 0,
                                  help=HELP["symbol"], key=f"data_symbol_pick_{exchange}")
        else:
            symbol = c2.text_input("Market", value=symbol, help=HELP["symbol"] + " Press “Find markets” to search "
                                   "the exchange's list.", key="data_symbol_text").strip().upper()
        tf = c3.selectbox("Timeframe", timeframes, index=timeframes.index(tf) if tf in timeframes else 0,
                          help=HELP["timeframe"], key=f"data_tf_{exchange}")
        b1, b2 = st.columns([1, 3])
        search = b2.text_input("Search text", value=symbol.split("/")[0] if symbol else "", key="data_search",
                               help="Part of the market name, e.g. ETH, to list matching markets.",
                               label_visibility="collapsed")
        if b1.button("Find markets", help="Ask the exchange for its markets matching the search text (needs internet)."):
            from pricecast.data.market import list_symbols

            try:
                with st.spinner(f"Asking {exchange} for its markets …"):
                    symbols = list_symbols(exchange, search)
                if not symbols:
                    st.warning(f"{common.md(exchange)} lists no market matching '{common.md(search)}'.")
                else:
                    st.session_state.setdefault("data_found_symbols", {})[exchange] = symbols
                    st.rerun()
            except PricecastError as exc:
                st.error(common.plain(exc))
        ref = f"{exchange}:{symbol}:{tf}"
    else:
        from pricecast.data.market import yahoo_intervals

        source, symbol, tf = _market_parts(spec.data, "yahoo", "TSLA", "1d")
        if source != "yahoo":
            symbol, tf = "TSLA", "1d"
        intervals = list(yahoo_intervals())
        c1, c2 = st.columns(2)
        symbol = c1.text_input("Ticker", value=symbol, help=HELP["symbol"], key="data_yahoo_symbol").strip().upper()
        tf = c2.selectbox("Interval", intervals, index=intervals.index(tf) if tf in intervals else intervals.index("1d"),
                          help=HELP["timeframe"] + " Yahoo keeps minute candles for a few weeks only.", key="data_yahoo_tf")
        ref = f"yahoo:{symbol}:{tf}"
    if st.button("Load", type="primary", help="Download these candles (only what is not on this computer yet)."):
        if not symbol:
            st.error("Enter a market or ticker first.")
        else:
            _download(ref)
    elif spec.data != ref:
        st.caption(f"Press **Load** to use {common.md(ref)}. Now in use: {common.md(common.data_label(spec.data))}.")


def _csv_form() -> None:
    uploaded = st.file_uploader("Candle CSV file", type=["csv", "txt", "gz"], help=HELP["upload"], key="data_upload")
    if uploaded is None:
        return
    if st.session_state.get("data_upload_done") == uploaded.file_id:
        return
    from pricecast.data.columns import with_columns
    from pricecast.data.csv_import import read_candles_csv
    from pricecast.data.uploads import store_upload

    raw = uploaded.getvalue()
    shown = common.md(uploaded.name)
    mapping = st.session_state.get(COLUMN_CHOICES, {}).get(uploaded.file_id)
    try:
        frame = read_candles_csv(raw, name=uploaded.name, columns=mapping)
    except ValueError as exc:  # CandleError names the column and line; pandas/codec errors are ValueErrors
        st.error(f"{shown} could not be read: {common.plain(exc)}")
        _columns_form(raw, uploaded.name, uploaded.file_id)
        return
    # Kept by content in pricecast's home, so runs can name (and reload) it like any CSV path and
    # another session's upload of the same name never replaces it.
    path = str(store_upload(raw, uploaded.name))
    st.session_state["data_upload_done"] = uploaded.file_id
    state.add_upload(path)
    state.bump_data()
    _use(with_columns(path, mapping))  # the mapping rides in the data ref: runs and links read the file the same way
    notes = frame.attrs.get("csv_notes") or []
    st.success(f"{shown}: {len(frame):,} candles read." + (f" Note: {common.md('; '.join(notes))}." if notes else ""))


COLUMN_CHOICES = "data_upload_columns"  # file id -> {role: column}, chosen below for this upload


def _columns_form(raw: bytes, name: str, file_id: str) -> None:
    """The file's first rows and a chooser per role, for a CSV whose columns were not recognised."""
    from pricecast.data.columns import ROLES, csv_preview, role_aliases

    try:
        header, rows = csv_preview(raw, name)
    except ValueError:
        return  # not a text CSV: the error above says so, and no choice of columns would help
    if len(header) < 2:
        return
    st.markdown("**Which column is which?** The file's first rows:")
    st.dataframe(pd.DataFrame([r + [""] * (len(header) - len(r)) for r in rows], columns=header), hide_index=True)
    guess = {**role_aliases(header), **st.session_state.get(COLUMN_CHOICES, {}).get(file_id, {})}
    options = ["(none)", *header]
    with st.form("data_columns_form", border=False):
        cells = st.columns(len(ROLES))
        chosen = {role: cell.selectbox(role, options, index=options.index(guess[role]) if guess.get(role) in options
                                       else 0, key=f"data_column_{role}")
                  for cell, role in zip(cells, ROLES)}
        if st.form_submit_button("Read with these columns"):
            mapping = {role: column for role, column in chosen.items() if column != "(none)"}
            if "time" not in mapping or "close" not in mapping:
                st.error("Choose at least the time and the close column.")
            else:
                st.session_state.setdefault(COLUMN_CHOICES, {})[file_id] = mapping
                st.rerun()


def _range_widgets(full: pd.DataFrame) -> None:
    since, until = state.data_range()
    first, last = full.index[0].date(), full.index[-1].date()
    limited = st.toggle("Use only part of the history", value=bool(since or until), help=HELP["date_range"],
                        key="data_limit")
    if not limited:
        if since or until:
            state.set_data_range(None, None)
        return
    c1, c2 = st.columns(2)
    start = c1.date_input("From", value=_clamp(since, first, last, first), min_value=first, max_value=last,
                          help="The first day to use.", key="data_from")
    end = c2.date_input("To", value=_clamp(until, first, last, last), min_value=first, max_value=last,
                        help="The last day to use.", key="data_to")
    if start > end:
        st.error("'From' is after 'To': pick an earlier start or a later end.")
        return
    new_since = start.isoformat() if start != first else None
    new_until = end.isoformat() if end != last else None
    if (new_since, new_until) != (since, until):
        state.set_data_range(new_since, new_until)


def _clamp(text: str | None, lo: dt.date, hi: dt.date, default: dt.date) -> dt.date:
    try:
        value = dt.date.fromisoformat(text[:10]) if text else default
    except ValueError:
        value = default
    return min(max(value, lo), hi)


# The "where" tables' columns, per kind of place: (field in the report, heading), in order.
GAP_COLUMNS = (("start", "Last candle before"), ("end", "First candle after"), ("missing", "Missing candles"))
PLACE_COLUMNS = {
    "stale": (("start", "First frozen candle"), ("end", "Last frozen candle"), ("candles", "Candles")),
    "gaps": GAP_COLUMNS,
    "duplicates": (("time", "Time"), ("same_as", "Same as the candle at")),
    "jumps": (("time", "Time"), ("change", "Close change")),
    "bad_ohlc": (("time", "Time"),),
}
_TIME_FIELDS = ("start", "end", "time", "same_as")


def _places(rows: list[dict], columns: tuple[tuple[str, str], ...], daily: bool) -> pd.DataFrame:
    """A "where" table as a person reads it: times without the ISO clutter (UTC, as everywhere on
    the page), relative moves as percentages."""
    table = pd.DataFrame(rows)
    out = {}
    for name, heading in columns:
        values = table[name]
        if name in _TIME_FIELDS:
            values = values.map(lambda t: when(t, daily))
        elif name == "change":
            values = values.map("{:+.1%}".format)
        out[heading] = values
    return pd.DataFrame(out)


def _span(step: pd.Timedelta | None) -> str:
    if step is None:
        return "–"
    seconds = int(step.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count > 1 and unit in ("week", "day") else "")
    return f"{seconds} s"


def _age(seconds: float) -> str:
    from pricecast.data.market.loader import human_age

    return human_age(dt.timedelta(seconds=seconds))


def _summary(candles: pd.DataFrame, ref: str, cache_file: str | None) -> None:
    info = summarize(candles)
    step = pd.Timedelta(info["step"]) if info["step"] else None
    daily = step is not None and step >= pd.Timedelta(days=1)
    c = st.columns(5)
    c[0].metric("Candles", f"{info['rows']:,}", help="How many candles (rows) are used.")
    c[1].metric("From", when(info["first"], daily), help="The first candle's time (UTC).")
    c[2].metric("To", when(info["last"], daily), help="The last candle's time (UTC).")
    c[3].metric("Spacing", _span(step), help="The usual time between two candles.")
    c[4].metric("Gaps", f"{info['gaps']:,}", help="Places where candles are missing (weekends and short holidays "
                "of stock markets are not counted). Windows may span a gap; many gaps hurt forecasts.")
    kind = kind_of(ref)
    base = split_ref(ref)[0]
    if kind == "sample":
        st.caption(f"Bundled with pricecast: {CATALOGUE[base.split(':', 1)[1].upper()].title}. Last candle {info['last'][:10]}.")
    else:
        path = Path(cache_file) if cache_file else Path(base).expanduser()
        if path.exists():
            age = time.time() - path.stat().st_mtime
            what = "Downloaded candles kept on this computer" if kind == "market" else "File"
            st.caption(f"{what}: last updated {_age(age)} · last candle {info['last'][:16].replace('T', ' ')} UTC.")
    if info["gap_list"]:
        # Lazy (only drawn once opened): a closed expander's table would still load the data grid.
        where = st.expander(f"Where the {info['gaps']} gap(s) are ({info['missing_candles']:,} candles missing)",
                            key="data_gaps_open", on_change="rerun")
        if where.open:
            where.dataframe(_places(info["gap_list"], GAP_COLUMNS, daily), hide_index=True)


QUALITY_HELP = {
    "duplicates": "Candles that appear twice: the same time twice in the file (one kept), or the very same "
                  "open/high/low/close/volume again at a later time (a feed replaying old data).",
    "zero_volume": "Candles in which nothing was traded. A few are normal in quiet hours; many in a row "
                   "usually mean the feed was down.",
    "stale": "Stretches where the price does not move for many candles in a row: a frozen feed. A model "
             "learns nothing there, and scores on such a part mean little.",
    "bad_ohlc": "Candles that cannot be: open or close outside the low..high range, or high below low.",
    "jumps": "Moves from one close to the next many times larger than this series' large moves. Often real "
             "(a crash or a rally on news): check that they are. If not, a bad tick or a stock split that was "
             "not adjusted. A price 100x the one before is always a data error.",
    "clean": "Keep only the longest stretch without gaps, duplicates, frozen prices, impossible candles or "
             "jumps. Saved in the data name (…#clean), so runs and shared links use the same candles.",
}


def _quality(candles: pd.DataFrame, ref: str) -> dict:
    """Counts of each defect kind, where they are, and the cut to the longest clean stretch."""
    report = quality_report(candles)
    q, counts = report.to_dict(), report.counts()
    daily = is_daily(candles)
    st.subheader("Data quality")
    c = st.columns(5)
    c[0].metric("Duplicates", f"{counts['duplicates']:,}", help=QUALITY_HELP["duplicates"])
    c[1].metric("Zero-volume candles", f"{counts['zero_volume']:,}", help=QUALITY_HELP["zero_volume"])
    c[2].metric("Stale stretches", f"{counts['stale']:,}", help=QUALITY_HELP["stale"],
                delta=f"{counts['stale_candles']:,} candles frozen" if counts["stale"] else None,
                delta_color="off", delta_arrow="off")
    c[3].metric("Impossible candles", f"{counts['bad_ohlc']:,}", help=QUALITY_HELP["bad_ohlc"])
    c[4].metric("Jumps", f"{counts['jumps']:,}", help=QUALITY_HELP["jumps"])
    lines = report.lines()
    if report.is_clean:
        st.success("No gaps, duplicates, frozen prices, impossible candles or jumps."
                   + (f" ({lines[-1]}.)" if lines else ""))
    else:
        st.warning("Found: " + "; ".join(lines) + ".")
        where = st.expander("Where they are (also marked on the chart below)", key="data_quality_open",
                            on_change="rerun")  # lazy, as the gaps' expander
        for title, kind in (("Stale stretches", "stale"), ("Gaps", "gaps"), ("Duplicates", "duplicates"),
                            ("Jumps", "jumps"), ("Impossible candles", "bad_ohlc")):
            rows = [{"time": t} for t in q[kind]] if kind == "bad_ohlc" else q[kind]
            if rows and where.open:
                where.markdown(f"**{title}**")
                where.dataframe(_places(rows, PLACE_COLUMNS[kind], daily), hide_index=True)
    base, is_cut = split_ref(ref)
    if is_cut or not report.is_clean:
        clean = q["longest_clean"]
        label = "Use only the longest clean stretch"
        if clean and not is_cut:
            label += f" ({when(clean['start'], daily)} … {when(clean['end'], daily)}, {clean['candles']:,} candles)"
        wanted = st.toggle(label, value=is_cut, help=QUALITY_HELP["clean"], key=f"data_clean_{base}")
        if wanted != is_cut:
            spec = state.current_spec()
            state.set_spec(spec.replace(data=clean_ref(base) if wanted else base))
            st.rerun()
    return q


def body() -> None:
    from pricecast.plots.figures import candles_figure

    st.title("Data")
    st.caption("Step 1 of 4 — choose the price history the model will learn from.")
    spec = state.current_spec()
    current_source = _source_of(spec.data)
    keys = list(SOURCES)
    source = st.radio("Source", keys, index=keys.index(current_source), format_func=SOURCES.get, horizontal=True,
                      help=HELP["source"], key="data_source")
    if source == "sample":
        names = list(CATALOGUE)
        now = split_ref(spec.data)[0].split(":", 1)[1].upper() if current_source == "sample" else names[0]
        name = st.selectbox("Series", names, index=names.index(now) if now in names else 0,
                            format_func=lambda n: f"{n} — {CATALOGUE[n].title}", help=HELP["sample"], key="data_sample")
        _use(CATALOGUE[name].ref)
    elif source in ("exchange", "yahoo"):
        _market_form(source)
    else:
        _csv_form()
        if current_source == "csv":
            st.caption(f"In use: {common.md(common.data_label(spec.data))}")

    spec = state.current_spec()
    if _source_of(spec.data) != source:
        st.info(f"Still using **{common.md(common.data_label(spec.data))}** until new data is loaded.")
    try:
        full, warnings, cache_file = state.load_full(spec.data)
    except (ValueError, OSError):  # load_current below gives the message
        full, warnings, cache_file = None, (), None
    if full is not None and len(full):
        _range_widgets(full)
    candles, error = state.load_current()
    if candles is None:
        st.error(error)
        return
    for warning in warnings:
        st.warning(common.md(warning))
    _summary(candles, spec.data, cache_file)
    quality = _quality(candles, spec.data)
    charts.show(candles_figure(candles, title=common.data_label(spec.data), quality=quality), key="data_candles")
    st.page_link("pages/2_Model.py", label="Next: shape the windows and the model", icon="➡️")


common.run_page("Data", "📊", body)
