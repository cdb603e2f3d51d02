"""Data: choose the price history (bundled, exchange, Yahoo, CSV), the date range; see candles and a summary."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from pricecast.data import synthetic
from pricecast.data.candles import summarize
from pricecast.data.datasets import DataRef
from pricecast.data.quality import is_daily, quality_report, when
from pricecast.data.samples import CATALOGUE
from pricecast.durations import ago
from pricecast.errors import PricecastError
from ui import charts, common, state, text
from ui.common import HELP

SOURCES = {
    "sample": "Bundled series (offline)",
    "synthetic": "Synthetic pattern (sandbox)",
    "exchange": "Crypto exchange",
    "yahoo": "Yahoo Finance",
    "csv": "Upload a CSV file",
}


OFFLINE_HINT = (" — Without internet (or while the site is unreachable), use a bundled series or a CSV file "
                "instead: choose them under Source above.")


def _source_of(ref: str) -> str:
    try:
        return DataRef.parse(ref).source
    except ValueError:  # not a data reference at all
        return "sample"


def _market_parts(ref: str, default_source: str, default_symbol: str, default_tf: str) -> tuple[str, str, str]:
    try:
        parsed = DataRef.parse(ref).market_parts()
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


def _use(ref: DataRef) -> None:
    """Switch to the series ``ref``; staying on the same series keeps its '#clean' cut."""
    spec = state.current_spec()
    try:
        same = DataRef.parse(spec.data).with_clean(False) == ref.with_clean(False)
    except ValueError:  # the reference in use cannot be read: any choice replaces it
        same = False
    if not same:
        state.set_spec(spec.replace(data=str(ref)))


def _download(ref: DataRef) -> None:
    """Fetch (or refresh) market candles over the network into the local cache."""
    from pricecast.data.market import MarketDataError, load_market

    since, until = state.data_range()
    with st.spinner(f"Downloading {text.md(ref)} … (candles already on this computer are not fetched again)"):
        try:
            result = load_market(str(ref), since=since, until=until)
        except MarketDataError as exc:
            st.error(f"{text.plain(exc)}{OFFLINE_HINT}")
            return
        except OSError as exc:  # the cache folder cannot be read or written
            st.error(f"Could not download {text.md(ref)}: {text.plain(exc)}")
            return
    for warning in result.warnings:
        st.warning(text.md(warning))
    state.bump_data()
    _use(ref)
    st.success(f"{len(result.candles):,} candles ready ({result.fetched_rows:,} new from the network).")


def _find_markets(exchange: str, symbol: str) -> None:
    """"Find markets": the exchange's markets matching a search text, offered in the market picker."""
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
                st.warning(f"{text.md(exchange)} lists no market matching '{text.md(search)}'.")
            else:
                st.session_state.setdefault("data_found_symbols", {})[exchange] = symbols
                st.rerun()
        except PricecastError as exc:
            st.error(text.plain(exc))


def _market_form(kind: str) -> None:
    spec = state.current_spec()
    if kind == "exchange":
        try:
            exchanges = _exchanges()
        except (ImportError, PricecastError) as exc:  # ccxt missing or broken
            st.error(f"Exchange support is not available: {text.plain(exc)}")
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
            st.error(text.plain(exc))
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
        _find_markets(exchange, symbol)
        ref = DataRef.market(exchange, symbol, tf)
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
        ref = DataRef.market("yahoo", symbol, tf)
    if st.button("Load", type="primary", help="Download these candles (only what is not on this computer yet)."):
        if not symbol:
            st.error("Enter a market or ticker first.")
        else:
            _download(ref)
    elif spec.data != str(ref):
        st.caption(f"Press **Load** to use {text.md(ref)}. Now in use: {text.md(common.data_label(spec.data))}.")


# The sandbox's knobs as sliders, in the recipe's order; length, timeframe and seed sit below them.
SLIDERS = {"noise": "Noise (random shocks, % per candle)", "daily": "Daily cycle (% of the price)",
           "weekly": "Weekly cycle (% of the price)", "trend": "Trend (% per year)",
           "ar": "Autocorrelated returns", "regimes": "Regime switches"}


def _synthetic_form(ref: str) -> None:
    """Sliders that rebuild the ``synthetic:pattern?...`` reference; the series changes as they move."""
    try:
        values = dict(synthetic.parse_ref(DataRef.parse(ref).body).values)
    except PricecastError:  # not a synthetic ref yet (or a bad one from a link): start from the defaults
        values = {k.name: k.default for k in synthetic.KNOBS.values()}
    st.info("**Synthetic data**, made up by pricecast from the recipe below — not a market. Move the sliders and "
            "watch what a network can learn: at low noise it beats “no change” easily; raise the noise until "
            "the pattern drowns and the series behaves like real prices (a random walk).", icon=":material/science:")
    cols = st.columns(3)
    for i, (name, label) in enumerate(SLIDERS.items()):
        knob = synthetic.KNOBS[name]
        kind = int if knob.is_int else float
        values[name] = cols[i % 3].slider(
            label, min_value=kind(knob.lo), max_value=kind(knob.hi), value=kind(values[name]), step=kind(knob.step),
            help=knob.help[0].upper() + knob.help[1:] + ".", key=f"data_syn_{name}")
    c1, c2, c3 = st.columns(3)
    timeframes = list(synthetic.TIMEFRAMES)
    values["timeframe"] = c1.selectbox("Timeframe", timeframes, index=timeframes.index(values["timeframe"]),
                                       help=synthetic.KNOBS["timeframe"].help.capitalize() + ".", key="data_syn_timeframe")
    for col, name, label in ((c2, "length", "Candles"), (c3, "seed", "Seed")):
        knob = synthetic.KNOBS[name]
        values[name] = int(col.number_input(label, min_value=int(knob.lo), max_value=int(knob.hi),
                                            value=int(values[name]), step=int(knob.step),
                                            help=knob.help[0].upper() + knob.help[1:] + ".", key=f"data_syn_{name}"))
    _use(DataRef.synthetic(values))


def _csv_form() -> None:
    uploaded = st.file_uploader("Candle CSV file", type=["csv", "txt", "gz"], help=HELP["upload"], key="data_upload")
    if uploaded is None:
        return
    if st.session_state.get("data_upload_done") == uploaded.file_id:
        return
    from pricecast.data.csv_import import read_candles_csv
    from pricecast.data.uploads import store_upload

    raw = uploaded.getvalue()
    shown = text.md(uploaded.name)
    mapping = st.session_state.get(COLUMN_CHOICES, {}).get(uploaded.file_id)
    try:
        frame = read_candles_csv(raw, name=uploaded.name, columns=mapping)
    except ValueError as exc:  # CandleError names the column and line; pandas/codec errors are ValueErrors
        st.error(f"{shown} could not be read: {text.plain(exc)}")
        _columns_form(raw, uploaded.name, uploaded.file_id)
        return
    # Kept by content in pricecast's home, so runs can name (and reload) it like any CSV path and
    # another session's upload of the same name never replaces it.
    path = str(store_upload(raw, uploaded.name))
    st.session_state["data_upload_done"] = uploaded.file_id
    state.add_upload(path)
    state.bump_data()
    _use(DataRef.file(path, mapping))  # the mapping rides in the data ref: runs and links read the file the same way
    notes = frame.attrs.get("csv_notes") or []
    st.success(f"{shown}: {len(frame):,} candles read." + (f" Note: {text.md('; '.join(notes))}." if notes else ""))


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
    parsed = DataRef.parse(ref)
    kind = parsed.kind
    if kind == "sample":
        st.caption(f"Bundled with pricecast: {CATALOGUE[parsed.sample_name].title}. Last candle {info['last'][:10]}.")
    elif kind == "synthetic":
        st.caption("Recipe: " + text.md("; ".join(synthetic.parse_ref(parsed.body).lines())) + ".")
    else:
        path = Path(cache_file) if cache_file else Path(parsed.body).expanduser()
        if path.exists():
            age = time.time() - path.stat().st_mtime
            what = "Downloaded candles kept on this computer" if kind == "market" else "File"
            st.caption(f"{what}: last updated {ago(age)} · last candle {info['last'][:16].replace('T', ' ')} UTC.")
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
    parsed = DataRef.parse(ref)
    is_cut = parsed.clean
    if is_cut or not report.is_clean:
        clean = q["longest_clean"]
        label = "Use only the longest clean stretch"
        if clean and not is_cut:
            label += f" ({when(clean['start'], daily)} … {when(clean['end'], daily)}, {clean['candles']:,} candles)"
        wanted = st.toggle(label, value=is_cut, help=QUALITY_HELP["clean"], key=f"data_clean_{parsed.with_clean(False)}")
        if wanted != is_cut:
            spec = state.current_spec()
            state.set_spec(spec.replace(data=str(parsed.with_clean(wanted))))
            st.rerun()
    return q


PREDICTABILITY_HELP = (
    "Before any training: is there something to forecast? Looked at on the training part only (the first "
    "share of the split), for the Model page's target, N and K. A plain linear model (no network) is walked "
    "forward through that part and scored against “no change”: if even it finds nothing, a network rarely "
    "does. The chart shows how much each change resembles the ones before it; bars inside the dashed band "
    "are what a random walk gives by chance.")


@st.cache_data(max_entries=16, show_spinner=False)
def _judge(candles: pd.DataFrame, target: str, n: int, k: int, split: tuple[float, float, float], name: str):
    from pricecast.evaluation.predictability import check_candles

    return check_candles(candles, target, n, k, split, name=name)


def _predictability(candles: pd.DataFrame, spec) -> None:
    from pricecast.evaluation.predictability import evidence_lines
    from pricecast.plots.predictability import acf_figure

    window = spec.window
    st.subheader("Can this be forecast?", help=PREDICTABILITY_HELP)
    try:
        result = _judge(candles, window.target, window.n, window.k, tuple(window.split), common.data_label(spec.data))
    except PricecastError as exc:
        st.warning(f"Cannot judge yet: {text.plain(exc)}")
        return
    show = {"predictable": st.success, "weak": st.info}.get(result.verdict, st.warning)
    show(text.md(result.sentence))
    charts.show(acf_figure(result), key="data_acf")
    st.caption(text.md(f"{window.target}, N={window.n}, K={window.k}, {result.training_rows:,} training candles: "
                         + "; ".join(evidence_lines(result)) + "."))


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
        now = DataRef.parse(spec.data).sample_name if current_source == "sample" else names[0]
        name = st.selectbox("Series", names, index=names.index(now) if now in names else 0,
                            format_func=lambda n: f"{n} — {CATALOGUE[n].title}", help=HELP["sample"], key="data_sample")
        _use(DataRef.parse(CATALOGUE[name].ref))
    elif source == "synthetic":
        _synthetic_form(spec.data)
    elif source in ("exchange", "yahoo"):
        _market_form(source)
    else:
        _csv_form()
        spec = state.current_spec()  # an upload just now has switched the data
        if _source_of(spec.data) == "csv":
            st.caption(f"In use: {text.md(common.data_label(spec.data))}")

    spec = state.current_spec()
    if _source_of(spec.data) != source:
        st.info(f"Still using **{text.md(common.data_label(spec.data))}** until new data is loaded.")
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
        st.warning(text.md(warning))
    _summary(candles, spec.data, cache_file)
    quality = _quality(candles, spec.data)
    title = common.data_label(spec.data)
    if DataRef.parse(spec.data).kind == "synthetic":
        title = f"{title} ({synthetic.LABEL}: not a market)"
    charts.show(candles_figure(candles, title=title, quality=quality), key="data_candles")
    _predictability(candles, spec)
    st.page_link("pages/2_Model.py", label="Next: shape the windows and the model", icon=common.NEXT)


common.run_page("Data", common.ICON["Data"], body)
