"""What every page shares: page setup, the error guard, plain-language help texts, small formatters."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from pricecast.errors import PricecastError
from pricecast.jobs.job import JobState

from . import preload, state
from .text import md, plain, state_icon, state_words

log = logging.getLogger("pricecast.ui")

# The pages, in order: (script, title, icon). app.py routes with them and every page's sidebar links
# to them, so the menu is the same whether a visit starts at the home page or at a deep link.
# Icons are Streamlit's Material Symbols (its own font): emoji are empty boxes without an emoji font.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("pages/0_Home.py", "Home", ":material/home:"),
    ("pages/1_Data.py", "Data", ":material/database:"),
    ("pages/2_Model.py", "Model", ":material/neurology:"),
    ("pages/3_Train.py", "Train", ":material/model_training:"),
    ("pages/4_Results.py", "Results", ":material/insights:"),
    ("pages/5_Runs.py", "Runs", ":material/folder_open:"),
    ("pages/6_Experiments.py", "Experiments", ":material/science:"),
)
ICON = {title: icon for _, title, icon in PAGES}  # a page's icon, for links to it
NEXT = ":material/arrow_forward:"  # "Next: ..." links

# Help of the page inputs that are not settings; a setting's help is on its field (`Field.page_help`,
# drawn by `ui.inputs.widget`).
HELP: dict[str, str] = {
    "source": "Where the price history comes from. The bundled series work offline; exchanges and Yahoo "
              "need an internet connection the first time (then they are kept on this computer). The synthetic "
              "pattern is made up by pricecast from a recipe you set with sliders: a sandbox, not a market.",
    "sample": "Daily prices of a well-known stock, shipped with pricecast so everything works offline.",
    "exchange": "The crypto exchange to download candles from.",
    "symbol": "The market to download, e.g. BTC/USDT (bitcoin priced in tether) or TSLA on Yahoo.",
    "timeframe": "How much time one candle covers: 1m = one minute, 1h = one hour, 1d = one day.",
    "date_range": "Only use candles between these dates. Leave it off to use everything that is available.",
    "upload": "A CSV file of candles: a time column and open/high/low/close (volume optional). Yahoo, "
              "investing.com and most exchange exports are recognised.",
    "sliding": "On: a new example starts at every candle (overlapping windows, many examples). "
               "Off: windows don't overlap, as in the original tutorial (far fewer examples).",
    "preset_data": "Which data the preset trains on. 'Its data' is the bundled series of the tutorial's kind "
                   "(works offline); 'Its live source' is the exchange or Yahoo series the tutorial downloaded "
                   "(needs an internet connection the first time); 'Keep my data' leaves the data you chose.",
    "yaml_upload": "Load a setup saved earlier with 'Download setup'.",
    "loss_curve": "Usually both curves fall. If the validation loss (orange) rises while the training loss (blue) "
                  "keeps falling, the model is memorising the training data: that is overfitting. A flat "
                  "training loss far above the validation loss can also mean a too-small learning rate.",
    # Only where the run predicts the change (residual output): without it, flat curves are not expected.
    "loss_curve_residual": "Flat curves from the first epoch on are normal with 'Predict the change' (on in this "
                           "run): the model starts at 'no change' (persistence), and prices move almost at random, "
                           "so there is little left to learn. Judge it by its skill on the Results page, not by "
                           "the slope.",
    "live_val": "The model's forecasts on validation data it does not train on, redrawn as training goes (after "
                "every epoch when epochs are slow; every few seconds when they are fast, so drawing costs the "
                "run nothing) and after the last epoch. "
                "The grey dotted line is 'tomorrow = today' (persistence): a useful model must beat it.",
}


def run_page(title: str, icon: str, body: Callable[[], None]) -> None:
    """Every page: config, the setup from/to the URL, the body (errors as messages), then the
    sidebar status (last, so it shows what the body may just have changed)."""
    st.set_page_config(page_title=f"{title} · pricecast", page_icon=icon, layout="wide")
    guard(_setup)
    guard(body)
    guard(_sidebar)
    preload.preload_charts()  # last: once this page is drawn, for the next ones


def _setup() -> None:
    state.reattach_job()
    state.current_spec()
    state.sync_url()
    note = st.session_state.pop(state.URL_NOTE, None)
    if note:
        st.warning(md(note))  # it quotes the link's values


def _sidebar() -> None:
    from pricecast.service.dashboard import registry

    spec = state.current_spec()
    with st.sidebar:
        try:
            for path, title, icon in PAGES:
                st.page_link(path, label=title, icon=icon)
            st.divider()
        except StreamlitPageNotFoundError:
            pass  # a page script run on its own (not through app.py) has no pages to link to
        st.caption("Current setup")
        st.markdown(f"**{md(data_label(spec.data))}** · {md(spec.headline())}")
        active = any(not j.finished for j in registry().jobs(state.session_id()))
        st.fragment(run_every=2.0 if active else None)(_job_status)()


def _job_status() -> None:
    """This tab's jobs in the sidebar, kept current while one runs (on every page)."""
    from pricecast.service.dashboard import registry

    jobs = registry()
    for snap in sidebar_jobs([jobs.snapshot(job) for job in jobs.jobs(state.session_id())]):
        what, icon = JOB_WORDS[snap.kind], state_icon(snap.state)
        if snap.state is JobState.QUEUED:
            st.info(f"{what}: waiting, number {snap.queue_position} in the queue", icon=icon)
        elif snap.state is JobState.RUNNING:
            t = snap.training
            detail = (f"epoch {min(t.epoch + 1, t.epochs)}/{t.epochs}" if t is not None and t.epochs
                      else f"{snap.progress:.0%}")
            st.info(f"{what}: {detail}", icon=icon)
        else:
            st.caption(f"{icon} {what} {state_words(snap.state)}: {md(job_name(snap))}")


JOB_WORDS = {"train": "Training", "backtest": "Backtest", "experiment": "Experiment"}  # those the sidebar shows
NEWS_SECONDS = 300  # a job that ended longer ago is no news


def sidebar_jobs(snaps: list, now: float | None = None) -> list:
    """What the sidebar lists: every waiting or running job, and of those that ended in the last
    :data:`NEWS_SECONDS` only the latest per kind (three finished trainings were once listed as three
    identical "Training finished" lines, none saying which run)."""
    now = time.time() if now is None else now
    shown = [s for s in snaps if s.kind in JOB_WORDS]
    ended = {}
    for snap in shown:
        if snap.finished and snap.ended is not None and snap.ended > now - NEWS_SECONDS:
            if snap.kind not in ended or snap.ended >= ended[snap.kind].ended:
                ended[snap.kind] = snap
    return [s for s in shown if not s.finished or ended.get(s.kind) is s]


def job_name(snap) -> str:
    """A finished job by name: a training by its run folder's name (as on Results and Runs), other jobs by
    their data."""
    run_dir = getattr(snap.result, "run_dir", None)
    if snap.kind == "train" and run_dir:
        return Path(run_dir).name
    return data_label(snap.label) if snap.label else snap.id


def quick_job(kind: str, payload: dict, candles=None, what: str = "Working", timeout: float = 300.0):
    """Run a short job (a model summary, a forecast) in a worker process and wait for its result
    with a spinner: the server process itself never loads TensorFlow. Raises ValueError with the
    worker's message when it fails."""
    from pricecast.service.dashboard import registry

    job = registry().submit(state.session_id(), kind, payload, candles=candles, exclusive=False)
    with st.spinner(f"{what} (in a worker process; the first time loads TensorFlow) …"):
        finished = job.wait(timeout)
    if not finished:
        job.kill()
        raise ValueError(f"{what.lower()} took longer than {timeout:.0f} s and was ended")
    snap = job.snapshot()
    if snap.state is not JobState.DONE:
        raise ValueError(snap.error or f"{what.lower()} was stopped")
    return snap.result


def guard(body: Callable[[], None]) -> None:
    """Run a page body; any error is shown as a message, never as a traceback. Pages catch only
    :class:`PricecastError` (bad input, with what to change) where they can say more; everything
    else ends up here and is logged with its traceback."""
    try:
        body()
    except PricecastError as exc:  # a problem the message explains: nothing for the log
        st.error(plain(exc))
    except Exception as exc:  # a bug; st.rerun/st.stop are BaseExceptions and pass through
        log.exception("page error")
        st.error(f"Something went wrong: {plain(exc)}")


def data_label(ref: str) -> str:
    """How a data reference is shown: an upload by its original file name (plain text; pass it
    through :func:`md` where it goes into markdown)."""
    from pricecast.data.datasets import display_name

    return display_name(ref)


def fmt_num(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def fmt_pct(value) -> str:
    """A signed percentage (skill). NaN is what skill is where persistence's error is zero (the
    prices never move): said in words, never "nan%"."""
    if value is None:
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        from pricecast.evaluation.metrics import NO_MOVEMENT_SHORT

        return NO_MOVEMENT_SHORT
    return f"{value:+.1%}"


