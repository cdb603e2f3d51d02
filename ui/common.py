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
    "n": "N: how many past candles the model looks at to make one forecast (its window into the past). "
         "Bigger N gives more context but fewer training examples and a slower model.",
    "k": "K: how many future candles the model forecasts at once. The further ahead, the harder: "
         "errors usually grow with each step.",
    "sliding": "On: a new example starts at every candle (overlapping windows, many examples). "
               "Off: windows don't overlap, as in the original tutorial (far fewer examples).",
    "stride": "How many candles to move between one example and the next (1 = every candle).",
    "features": "What the model sees for each past candle. 'close' alone is a good start; adding "
                "open/high/low/volume gives more information but also more noise. The derived inputs "
                "(returns, range, volatility, time) use only past candles.",
    "target": "What the model forecasts: a price (close, open, high, low), the volume traded per candle, "
              "volatility (each candle's high-low range relative to its close) or the log return. Prices move "
              "almost at random; volume and volatility follow the trading day, so they can be forecast. Each is "
              "scored against its own naive forecasts (no change, a moving average, the same hour yesterday).",
    "scaling": "Networks learn best on small numbers. 'logratio' expresses every price relative to the "
               "last known one (works across price levels); 'minmax' squeezes prices into 0..1 using "
               "the training part's range; 'standard' centres them around the training mean.",
    "split": "The history is cut by time: the model learns on the oldest part (training), is watched on "
             "the next (validation: decides when to stop) and judged on the newest (test), which it never saw.",
    "arch": "The kind of network; the line below the choices says what the chosen one looks at and why "
            "you would pick it. Several units = stacked layers (blocks).",
    "tcn_kernel": "TCN only: how many candles each filter looks at; with each block the filters look twice as "
                  "far apart, so more blocks are added until they see all N candles.",
    "patch_len": "Transformer only: how many candles make one patch (the pieces attention compares). "
                 "0 = N // 8, about 8 patches; the oldest candles that do not fill a patch are left out.",
    "heads": "Transformer only: how many different ways of comparing patches each block learns at once "
             "(at most the block's width).",
    "trend_window": "DLinear only: how many candles the moving average spans that separates the smooth trend "
                    "from the wiggles. 0 = 25 candles, or N if the window is shorter.",
    "units": "Size of each layer, comma-separated, one number per layer: '32' is one layer of 32, "
             "'64, 32' stacks two layers. Bigger layers can learn more but overfit more easily.",
    "kernel_sizes": "CNN only: how many neighbouring candles each filter looks at, one per conv layer.",
    "strides": "CNN only: how far each filter jumps between looks, one per conv layer. Bigger strides shrink the sequence faster.",
    "cnn_head": "CNN only: 'dense' flattens the last conv layer and adds a dense output of K values (works for any N); "
                "'conv' makes the last conv layer output the K values itself, as the seed tutorial did (N must fit).",
    "dense_units": "Optional extra fully-connected layers after the main body, comma-separated (empty for none).",
    "activation": "The non-linearity inside the layers. tanh suits GRU/LSTM; relu or leaky_relu suit CNN and MLP.",
    "output_activation": "Applied to the forecast itself. Keep 'linear' unless reproducing a tutorial: "
                         "relu, for example, can never forecast a fall below zero in scaled units.",
    "post_activation": "An extra activation right after the main body (the seed GRU used tanh here). Empty for none.",
    "dropout": "Randomly silences this share of the layer's outputs while training, which fights overfitting. "
               "0 = off, 0.2 is typical; very high values (0.8) make learning slow.",
    "recurrent_dropout": "GRU/LSTM only: dropout on the memory connections. Slows training noticeably.",
    "batch_norm": "Re-centres each layer's outputs during training; can speed learning of deeper networks.",
    "l1": "L1 penalty: pushes unneeded weights to exactly zero. 0 = off; try 1e-5..1e-3.",
    "l2": "L2 penalty (weight decay): keeps weights small, which fights overfitting. 0 = off; try 1e-5..1e-3.",
    "regularize": "Which weights the L1/L2 penalties apply to (kernel = the main weights).",
    "residual": "The model forecasts the change from the last known price rather than the price itself, "
                "and an untrained model starts at 'no change' (persistence). Recommended.",
    "optimizer": "How the weights are updated. Adam is a safe default.",
    "learning_rate": "How big each update step is. Too big: the loss jumps around or explodes. Too small: "
                     "learning crawls. 0.001 is a good start for Adam.",
    "batch_size": "How many examples are averaged per update. Smaller = noisier but more updates per epoch.",
    "epochs": "How many times training goes through all training examples (at most, with early stopping).",
    "patience": "Early stopping: stop when the validation loss has not improved for this many epochs, and keep "
                "the best weights. 0 = always run all epochs.",
    "seed": "Fixes the random start so the same setup gives the same result.",
    "persistence_floor": "On: when the trained network does not beat 'no change' (persistence) on the validation "
                         "part by more than noise (a paired test), the run uses 'no change' as its forecast. The "
                         "network is kept and shown either way. Off: the run always uses the network.",
    "floor_p": "How sure the paired test must be before the network replaces 'no change': its p-value (times the "
               "epochs the best one was picked from) must be below this. 1 = any gain on validation counts.",
    "shuffle": "Mix the order of training examples every epoch (recommended).",
    "base_batch_size": "Train with a bigger batch (faster) and raise the learning rate in proportion: with the "
                       "batch size tuned for 32 and a batch of 128, the learning rate is multiplied by 4. "
                       "The one speed-up that also helps on a CPU.",
    "jit_compile": "Compile the network with XLA. Faster on a GPU for larger models; on a CPU the compile time "
                   "usually costs more than it saves.",
    "mixed_precision": "Compute in 16-bit floats on a GPU (about twice as fast on modern GPUs); the forecast "
                       "itself stays 32-bit. Ignored on a CPU, with a note.",
    "preset": "Ready-made setups: pricecast's default and faithful copies of the tutorials this project grew from.",
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
        st.markdown(f"**{md(data_label(spec.data))}** · N={spec.window.n} → K={spec.window.k} · "
                    f"{md(spec.model.arch.upper())} {','.join(map(str, spec.model.units))}")
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


def fmt_seconds(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def parse_int_list(text: str, what: str, allow_empty: bool = False) -> tuple[int, ...]:
    """'64, 32' -> (64, 32) with a plain message on anything else."""
    items = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
    if not items and not allow_empty:
        raise ValueError(f"{what}: enter at least one whole number, e.g. 32 or 64, 32")
    try:
        return tuple(int(t) for t in items)
    except ValueError:
        raise ValueError(f"{what}: '{text}' should be whole numbers separated by commas, e.g. 64, 32") from None
