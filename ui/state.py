"""The user's setup across pages: one RunSpec per browser session, mirrored in the URL.

Contract (other pages may call these): :func:`current_spec`, :func:`set_spec`,
:func:`current_candles`, :func:`selected_run_dir`.

The setup is read from the URL's query parameters the first time a session opens a page (so a
shared link reproduces it) and written back on every page, because Streamlit drops query
parameters when the user switches pages.
"""
from __future__ import annotations

import re
import secrets
import uuid
from pathlib import Path

import pandas as pd
import streamlit as st

from pricecast.data.datasets import link_data_problem
from pricecast.presets import get_preset, labelled
from pricecast.spec_io import spec_from_link, spec_to_params
from pricecast.specs import RunSpec
from ui.text import plain

SPEC = "pc_spec"
VERSION = "pc_spec_version"  # bumped when the spec is replaced from outside the Model widgets
SESSION_ID = "pc_session_id"
SINCE, UNTIL = "pc_since", "pc_until"
RUN_DIR = "pc_run_dir"
DATA_TOKEN = "pc_data_token"  # bumped after a download, so cached candles are read again
URL_NOTE = "pc_url_note"
JOB = "pc_job"  # the id of this tab's latest training job (never in the URL: a shared link must not reach it)
OWNER = "pc_owner"  # this browser's secret (also its cookie's name): the key to take a job back after a reload
UPLOADS = "pc_uploads"  # files this browser session uploaded: the only files a link may name
TRAIN_NOW = "pc_train_now"  # set by a one-click story on Home: the Train page starts training on arrival
RANGE_PARAMS = ("since", "until")
JOB_PARAM = "job"  # what older versions put in the URL; ignored and dropped now
_TOKEN = re.compile(r"[0-9a-f]{32}")
# Query parameters that belong to one page, not to the setup (Results: ?run=<run id>, ?view=present):
# never read as settings, and kept when the setup is written into the URL.
PAGE_PARAMS = ("run", "view")


def session_id() -> str:
    """This browser session's (tab's) id, Streamlit's own (so the runtime can say whether it is still
    connected): the key of its jobs."""
    if SESSION_ID not in st.session_state:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        st.session_state[SESSION_ID] = ctx.session_id if ctx is not None else uuid.uuid4().hex
    return st.session_state[SESSION_ID]


def connected(session: str) -> bool:
    """The browser tab of that session is still open (its websocket connected)."""
    from streamlit.runtime import Runtime

    return Runtime.exists() and Runtime.instance().is_active_session(session)


def owner_token() -> str:
    """A secret of this browser, from its cookie (a new random one the first time): jobs are
    submitted with it, and only a session that has it can take a job back after a reload."""
    if OWNER not in st.session_state:
        cookie = str(st.context.cookies.get(OWNER) or "")
        st.session_state[OWNER] = cookie if _TOKEN.fullmatch(cookie) else secrets.token_hex(16)
    return st.session_state[OWNER]


# Sets the browser's owner cookie to this session's secret; draws nothing. SameSite=Strict: no other
# site's page sends it; a link copied to someone else carries nothing of it.
_owner_cookie = st.components.v2.component(
    "pricecast_owner",
    js="""
export default function ({ data }) {
  document.cookie = `@NAME@=${data}; path=/; max-age=31536000; SameSite=Strict`;
}
""".replace("@NAME@", OWNER),
)


def keep_owner_cookie() -> None:
    """Store :func:`owner_token` in the browser (once per session, where its cookie lacks it). In the
    sidebar, below the menu: the empty element's gap is not seen there."""
    if st.context.cookies.get(OWNER) != owner_token():
        with st.sidebar:
            _owner_cookie(data=owner_token(), key="pc_owner_cookie")


def _from_url() -> RunSpec:
    params = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    dropped: list[str] = []
    for key in RANGE_PARAMS:
        if params.get(key):
            text = str(params[key][-1]).strip()
            if _is_date(text):
                st.session_state["pc_" + key] = text[:10]
            else:
                dropped.append(f"{key}={text[:40]} (not a date such as 2020-01-31)")
    setup = {k: v for k, v in params.items() if k not in (*RANGE_PARAMS, JOB_PARAM, *PAGE_PARAMS)}
    if not setup and not dropped:
        return get_preset("default").spec
    # A value that cannot be used is dropped (its default stays) so the rest of the link still
    # applies and every page renders. Not validated as a whole here: a setup that cannot train
    # still opens, and the Model page says why.
    spec, bad = spec_from_link(setup, data_problem=lambda ref: link_data_problem(ref, session_uploads()))
    dropped += bad
    if dropped:
        st.session_state[URL_NOTE] = f"Left out of the link, defaults used instead: {'; '.join(dropped)}."
    return spec if setup else get_preset("default").spec


def _is_date(text: str) -> bool:
    import datetime as dt

    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return len(text) == 10 or text[10:11] in ("T", " ")


def session_uploads() -> tuple[str, ...]:
    """The files uploaded in this browser session (their stored paths)."""
    return tuple(st.session_state.get(UPLOADS, ()))


def add_upload(path: str) -> None:
    st.session_state[UPLOADS] = (*[p for p in session_uploads() if p != path], path)


def current_spec() -> RunSpec:
    """The setup built on the Data and Model pages (the link's, or the default preset, at first)."""
    if SPEC not in st.session_state:
        st.session_state[SPEC] = labelled(_from_url())
        st.session_state.setdefault(VERSION, 0)
    return st.session_state[SPEC]


def set_spec(spec: RunSpec, external: bool = True) -> None:
    """Replace the setup. ``external``: it did not come from the Model page's own widgets, so
    those are rebuilt with the new values. A setup edited away from its preset is renamed
    "custom (from NAME)" here, so the URL, Train, Runs and file names say so."""
    st.session_state[SPEC] = labelled(spec)
    if external:
        st.session_state[VERSION] = spec_version() + 1
    sync_url()


def spec_version() -> int:
    return int(st.session_state.get(VERSION, 0))


def data_range() -> tuple[str | None, str | None]:
    """The date range chosen on the Data page (ISO dates), or None for open ends."""
    return st.session_state.get(SINCE) or None, st.session_state.get(UNTIL) or None


def set_data_range(since: str | None, until: str | None) -> None:
    st.session_state[SINCE], st.session_state[UNTIL] = since or "", until or ""
    sync_url()


def sync_url() -> None:
    """Write the setup (and date range) into the URL, if it differs from what is there."""
    wanted = spec_to_params(current_spec())
    since, until = data_range()
    if since:
        wanted["since"] = since
    if until:
        wanted["until"] = until
    wanted.update({k: st.query_params[k] for k in PAGE_PARAMS if k in st.query_params})
    have = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if have != wanted:
        st.query_params.from_dict(wanted)


def bump_data() -> None:
    st.session_state[DATA_TOKEN] = int(st.session_state.get(DATA_TOKEN, 0)) + 1


def _token(ref: str) -> str:
    """Changes when the data behind ``ref`` may have changed (a CSV edited, a download done)."""
    path = Path(ref).expanduser()
    stamp = ""
    try:
        if path.exists():
            stamp = str(path.stat().st_mtime_ns)
    except OSError:
        pass
    return f"{st.session_state.get(DATA_TOKEN, 0)}:{stamp}"


@st.cache_resource(max_entries=8, show_spinner=False)
def _load(ref: str, since: str | None, until: str | None, token: str) -> tuple[pd.DataFrame, tuple[str, ...], str | None]:
    from pricecast.data.datasets import kind_of, load_data

    # Exchange and Yahoo data come from the local cache here; only the Data page's Load button
    # goes to the network, so opening a page never waits on (or fails for) an unreachable site.
    loaded = load_data(ref, since=since, until=until, offline=kind_of(ref) == "market")
    return loaded.candles, tuple(loaded.warnings), loaded.cache_file


def load_current() -> tuple[pd.DataFrame | None, str]:
    """Candles for the current setup and date range, or (None, why not: markdown-escaped)."""
    spec = current_spec()
    since, until = data_range()
    try:
        candles, _, _ = _load(spec.data, since, until, _token(spec.data))
        return candles, ""
    except (ValueError, OSError) as exc:  # any loading problem becomes a message
        from pricecast.data.datasets import kind_of

        message = plain(exc)
        try:
            market = kind_of(spec.data) == "market"
        except ValueError:
            market = False
        if market:
            message += (" — open the Data page and press “Load” to download these candles, or, without internet, "
                        "use a bundled series or a CSV file instead.")
        return None, message


def load_full(ref: str) -> tuple[pd.DataFrame, tuple[str, ...], str | None]:
    """All candles of ``ref`` with the loader's warnings and its cache file (cached like the setup's)."""
    return _load(ref, None, None, _token(ref))


def candles_of(ref: str) -> pd.DataFrame:
    """All candles of ``ref`` (a saved run's data), through the same cache as the setup's: the
    Results tabs and the Runs download no longer parse a large CSV once each."""
    return load_full(ref)[0]


def current_candles() -> pd.DataFrame | None:
    """The loaded candles of :func:`current_spec` ``.data`` within the chosen date range (cached)."""
    return load_current()[0]


def selected_run_dir() -> str | None:
    """The run shown on the Results page: the one picked there, else this session's latest."""
    chosen = st.session_state.get(RUN_DIR)
    if chosen and Path(chosen).exists():
        return chosen
    runs = session_run_dirs()
    return runs[-1] if runs else None


def select_run(run_dir: str | None) -> None:
    st.session_state[RUN_DIR] = run_dir


def session_run_dirs() -> list[str]:
    """Finished runs trained in this browser session, oldest first (folders that still exist)."""
    from pricecast.service.dashboard import registry

    out = []
    for job in registry().jobs(session_id(), "train"):
        snap_dir = job.snapshot().run_dir
        if snap_dir and Path(snap_dir).exists():
            out.append(snap_dir)
    return out


EXECUTOR = "pc_executor"


def executor() -> str:
    """Where this tab's trainings and backtests run: 'local' (a worker process on this computer) or
    'ray' (a Ray cluster); PRICECAST_EXECUTOR sets the default."""
    if EXECUTOR not in st.session_state:
        from pricecast.jobs.registry import default_executor

        st.session_state[EXECUTOR] = default_executor()
    return st.session_state[EXECUTOR]


def set_executor(name: str) -> None:
    st.session_state[EXECUTOR] = name


def request_training() -> None:
    """Ask the Train page to start training the current setup as soon as it opens (Home's stories)."""
    st.session_state[TRAIN_NOW] = True


def training_requested() -> bool:
    """Whether a one-click start is pending (read once: a reload does not start another run)."""
    return bool(st.session_state.pop(TRAIN_NOW, False))


def remember_job(job_id: str | None) -> None:
    """This tab's training job (kept in the session only: see :func:`reattach_job`)."""
    if job_id:
        st.session_state[JOB] = job_id
    else:
        st.session_state.pop(JOB, None)


def reattach_job() -> None:
    """A new session (a reloaded tab) takes back its browser's unfinished training job, if the tab
    that had it is gone: by the browser's secret cookie, never by anything in the URL."""
    from pricecast.service.dashboard import registry

    if st.session_state.get(JOB):
        return
    job = registry().reclaim(session_id(), owner_token(), "train", is_connected=connected)
    if job is not None:
        st.session_state[JOB] = job.id
