"""Experiments: compare settings over repeated trainings (the seed's architecture table and its
bias-regularizer box plot), on this computer or on a Ray cluster."""
from __future__ import annotations

import os

import streamlit as st
from streamlit.errors import StreamlitAPIException

from pricecast.catalogue import FIELDS
from pricecast.durations import duration
from pricecast.experiments.presets import CUSTOM, SETUP_PRESETS, build_experiment, experiment_presets
from pricecast.experiments.spec import EXPERIMENT_FIELDS, ExperimentError, ExperimentSpec, parse_values, validate
from pricecast.experiments.stats import comparison_table
from pricecast.experiments.storage import experiment_dir, list_experiments, load_experiment, prepare_folder
from pricecast.jobs.executors import JobError
from pricecast.jobs.job import JobState
from pricecast.plots.experiments import loss_curves_figure, spread_figure
from pricecast.service.dashboard import registry
from pricecast.service.experiments import default_workers
from ui import charts, common, search, state, text
from ui.inputs import widget

SELECTED = "exp_selected"
# The latest experiment job's (id, trainings seen) and the id whose end the page has redrawn for:
# one key each (a key per job id would pile up), dropped once the registry no longer has the job.
SEEN_DONE, SHOWN = "exp_seen_done", "exp_shown"
SEARCH = "search"
MODES = {
    "all-architectures": "All architectures on your current data",
    "bias-regularizers": "Seed: bias regularizers (LSTM, L1/L2 on the bias)",
    "architectures": "Seed: architectures (its CNNs, LSTM, GRU; the others at defaults)",
    CUSTOM: "My setup, with one or two settings varied",
    SEARCH: "Search: the best settings for my setup (Optuna)",
}
VARY_FIELDS = {
    "Architecture": ("arch", "lstm, gru"),
    "Units per layer": ("units", "16, 32, 64/64"),
    "Dropout": ("dropout", "0, 0.2"),
    "L1 factor": ("l1", "0, 0.001"),
    "L2 factor": ("l2", "0, 0.001"),
    "Regularized weights": ("regularize", "kernel, bias"),
    "Learning rate": ("learning_rate", "0.001, 0.0003"),
    "Activation": ("activation", "tanh, relu"),
    "Optimizer": ("optimizer", "adam, rmsprop"),
    "Batch size": ("train.batch_size", "32, 64"),
    "Past steps N": ("window.n", "20, 40"),
    "Scaling": ("scaling", "logratio, minmax"),
}

def _current_setup():
    """The Data/Model pages' setup and its date range."""
    return state.current_spec(), state.data_range()


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


@st.cache_data(show_spinner=False, max_entries=16)
def _rows(ref: str, since: str | None, until: str | None) -> int:
    from pricecast.data.datasets import load_data

    return len(load_data(ref, since=since, until=until, offline=True).candles)


def _build_experiment(mode: str, size: float, data: str, since: str | None, until: str | None, axes: dict,
                      repeats: int | None, epochs: int | None, name: str) -> ExperimentSpec:
    base, _ = _current_setup()
    return build_experiment(mode, base=base, axes=axes, size=size, data=data, since=since, until=until,
                            repeats=repeats, epochs=epochs, name=name.strip() or None,
                            rows=lambda exp: _rows(exp.base.data, exp.since, exp.until))


def _custom_axes(spec) -> dict | None:
    """The settings to compare on the user's setup and their values; None (with a message) when not usable yet."""
    st.caption(f"Base: your current setup — {text.md(spec.headline())}, {spec.train.epochs} epochs, "
               f"on {text.md(common.data_label(spec.data))}.")
    chosen = st.multiselect("Settings to compare", list(VARY_FIELDS), default=["Units per layer"],
                            max_selections=2, key="exp_fields",
                            help="Every combination of the values below is trained (two settings with 3 "
                                 "values each give 9 combinations).")
    axes: dict = {}
    for label in chosen:
        field, example = VARY_FIELDS[label]
        values = st.text_input(f"{label}: values", value=example, key=f"exp_values_{field}",
                               help="Separate values with commas. For layer lists write the layers of one "
                                    "value with '/', e.g. 64/64 for two layers of 64.")
        try:
            axes[field] = parse_values(field, values)
        except ExperimentError as exc:
            st.error(text.plain(exc))
            return None
    if not axes:
        st.info("Choose at least one setting to compare.")
        return None
    return axes


def _describe(exp: ExperimentSpec) -> None:
    """How many trainings the choices make, and whether running them continues an experiment."""
    trials = len(exp.variations) * exp.repeats
    slice_note = f", the last {exp.last_rows} rows of the data" if exp.last_rows else ""
    folds_note = f", each walked forward over {exp.folds} test folds" if exp.folds else ""
    st.markdown(f"**{len(exp.variations)} settings × {exp.repeats} repeats = {trials} trainings** of "
                f"{exp.base.train.epochs} epoch{'s' if exp.base.train.epochs != 1 else ''} each{folds_note}{slice_note} "
                f"(N={exp.base.window.n}, K={exp.base.window.k}). Name: **{text.md(exp.name)}**")
    folder = experiment_dir(exp.name)
    if (folder / "experiment.json").exists():
        try:
            done = load_experiment(folder).done
            st.caption(f"This experiment exists with {done} finished trainings; running it continues it.")
        except (ValueError, KeyError, OSError):  # an unreadable experiment.json only loses this caption
            pass


def setup_form() -> None:
    st.subheader("Set up")
    mode = st.radio("What to compare", list(MODES), format_func=MODES.get, horizontal=True, key="exp_mode",
                    help="The two experiments of the seed tutorial, or your own setup from the Data and Model "
                         "pages with settings you choose to compare.")
    if mode == SEARCH:
        search.search_form()
        return
    spec, (since, until) = _current_setup()
    if mode == CUSTOM:
        axes = _custom_axes(spec)
        if axes is None:
            return
        default_data = spec.data
    elif mode in SETUP_PRESETS:
        axes = {}
        preset = experiment_presets()[mode]
        st.caption(f"{preset.source[:1].upper()}{preset.source[1:]}. Your setup: N={spec.window.n}, K={spec.window.k}, "
                   f"{spec.scaling} scaling, {spec.train.epochs} epoch{'s' if spec.train.epochs != 1 else ''}, on "
                   f"{text.md(common.data_label(spec.data))}.")
        default_data = spec.data
    else:
        axes = {}
        preset = experiment_presets()[mode]
        st.caption(preset.source)
        default_data = preset.spec.base.data
        since = until = None

    c1, c2 = st.columns(2)
    with c1:
        data = st.text_input("Data", value=default_data, key=f"exp_data_{mode}",
                             help="sample:AAPL (bundled), EXCHANGE:SYMBOL:TIMEFRAME already downloaded on the "
                                  "Data page, or the file uploaded there. A CSV file on this computer: use the "
                                  "command line (python -m pricecast experiment run --data FILE ...).")
        size = widget(EXPERIMENT_FIELDS["size"], 0.1, "exp_size")  # a tenth: a quick first look
    with c2:
        with st.expander("Fine-tune repeats and epochs"):  # 0: what the size makes of the preset's
            repeats = widget(EXPERIMENT_FIELDS["repeats"], 0, "exp_repeats", min_value=0,
                             label="Repeats per setting (0 = from the size)")
            epochs = widget(FIELDS["epochs"], 0, "exp_epochs", min_value=0, max_value=1000,
                            label="Epochs per run (0 = from the size)")
        name = widget(EXPERIMENT_FIELDS["name"], "", "exp_name")

    from pricecast.data.datasets import link_data_problem

    # Typed into the page, so as untrusted as a link: no file paths on the server (the current
    # setup's data and this session's uploads already passed that check).
    problem = link_data_problem(data.strip(), (*state.session_uploads(), spec.data, default_data))
    if problem is not None:
        st.error(f"Data: {text.md(problem)}.")
        return
    try:
        exp = _build_experiment(mode, size, data.strip(), since, until, axes, repeats or None, epochs or None, name)
        validate(exp)
    except ValueError as exc:  # any setting problem is a message, never a traceback
        st.error(text.plain(exc))
        return

    _describe(exp)

    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        where = st.radio("Run on", ["This computer", "Ray cluster"], key="exp_where",
                         help="This computer: several trainings side by side, one per processor core (one at a "
                              "time with a GPU). Ray cluster: every training is a task on a Ray cluster.")
    with c2:
        workers = st.number_input("Trainings at a time", min_value=1, max_value=max(64, os.cpu_count() or 1),
                                  value=default_workers(), key="exp_workers",
                                  help="Each training runs in a worker process (never in the dashboard's own); "
                                       "more than 1 starts one process each (about 5 s of start-up each).")
    address = None
    with c3:
        if where == "Ray cluster":
            if not _ray_available():
                st.warning("Ray is not installed here: `pip install -r requirements-ray.txt`, then reload.")
            address = st.text_input("Ray address", value=os.environ.get("RAY_ADDRESS", ""), key="exp_address",
                                    help="e.g. ray://head-node:10001. Empty starts Ray on this computer.") or None
    job = registry().latest(state.session_id(), "experiment")
    busy = job is not None and not job.finished
    if st.button("Run experiment", type="primary", disabled=busy or (where == "Ray cluster" and not _ray_available()),
                 key="exp_run", help="Start (or continue) the experiment; the trainings already finished are kept."):
        executor = "ray" if where == "Ray cluster" else "local"
        try:
            prepare_folder(exp)  # now, so a clash with an existing experiment is a message here
        except (ValueError, OSError) as exc:
            st.error(text.plain(exc))
            return
        try:
            registry().submit(state.session_id(), "experiment", {"exp": exp, "executor": executor,
                                                                 "workers": int(workers), "address": address},
                              label=exp.name)
        except JobError as exc:
            st.error(text.plain(exc))
            return
        st.session_state[SELECTED] = exp.name


def progress_panel() -> None:
    job = registry().latest(state.session_id(), "experiment")
    if job is None:  # none yet, or forgotten by the registry: nothing of it stays in the session
        for key in (SEEN_DONE, SHOWN):
            st.session_state.pop(key, None)
        return
    st.fragment(run_every=1.0 if not job.finished else None)(_progress)(job.id)


def _progress(job_id: str) -> None:
    job = registry().get(state.session_id(), job_id)
    if job is None:
        return
    snap = registry().snapshot(job)
    # The results below are drawn by the full page run, not by this fragment: redraw the page each time
    # a training finishes, or they would still say "No finished trainings yet" at 7 of 8 done.
    seen = st.session_state.get(SEEN_DONE)
    if seen is None or seen[0] != job.id:
        st.session_state[SEEN_DONE] = (job.id, len(snap.trials))
    elif seen[1] != len(snap.trials):
        st.session_state[SEEN_DONE] = (job.id, len(snap.trials))
        st.rerun(scope="app")
    if not snap.finished:
        if snap.state is JobState.QUEUED:
            line = text.queue_text(snap.queue_position)
        else:
            eta = f", about {duration(snap.eta)} left" if snap.eta is not None else ", estimating time left …"
            line = (snap.text or "Starting the workers …") + (eta if snap.trials else "")
        st.progress(snap.progress, text=line)
        if snap.trials:
            last = snap.trials[-1].record
            result = (f"test RMSE {last['test_rmse']:.4g}" if last.get("status") == "ok"
                      else f"failed: {last.get('error')}")
            st.caption(f"Latest: {last.get('label')}, repeat {last.get('repeat')}: {result}")
        if st.button("Stop", key="exp_stop", help="Stop after the trainings running now; run it again to continue."):
            job.stop()
        return
    if st.session_state.get(SHOWN) != job.id:
        # The job finished since the last full run: redraw the page so the results appear.
        st.session_state[SHOWN] = job.id
        st.rerun()
    if snap.state is JobState.ERROR:
        st.error(snap.error)
    elif snap.state is JobState.STOPPED:
        done = snap.trials[-1].done if snap.trials else 0
        total = snap.trials[-1].total if snap.trials else 0
        st.info(f"Stopped with {done} of {total} trainings done; run it again to continue." if total
                else "Stopped; run it again to continue.")


def _report_button(name: str) -> None:
    """The experiment as one HTML file that opens offline (its table and plots)."""
    from pricecast.report.document import experiment_report

    st.download_button("Download report", data=lambda: experiment_report(name), file_name=f"{name}-report.html",
                       mime="text/html", key="exp_report", icon=":material/description:",
                       help="The table and the plots in one HTML file that opens offline in any browser.")


def results_panel() -> None:
    st.subheader("Results")
    rows = list_experiments()
    if not rows:
        st.info("No experiments yet: set one up above and press “Run experiment”.")
        return
    names = [r["name"] for r in rows]
    selected = st.session_state.get(SELECTED)
    index = names.index(selected) if selected in names else 0
    name = st.selectbox("Experiment", names, index=index, key=f"exp_pick_{selected}",
                        help="Experiments saved on this computer, newest first.")
    st.session_state[SELECTED] = name
    try:
        exp = load_experiment(name)
    except (ValueError, KeyError, OSError) as exc:
        st.error(text.plain(exc))
        return
    frame = exp.frame()
    s = exp.spec
    st.caption(f"{text.md(s.title or s.name)}: {text.md(common.data_label(s.base.data))}, N={s.base.window.n}, K={s.base.window.k}, "
               f"{s.base.train.epochs} epochs, seeds {s.base_seed}…{s.base_seed + s.repeats - 1}"
               + (f", last {s.last_rows} rows" if s.last_rows else "") + f" · {exp.done} of {exp.total} trainings done")
    if frame.empty:
        st.info("No finished trainings yet.")
        return
    st.info(exp.note())
    _report_button(name)
    summary = exp.summary()
    order = summary["label"].tolist()  # settings in ranking order, best first
    # One row per setting: a plain table (no data grid to load in the browser for a handful of rows).
    table = comparison_table(summary)
    # said under the table, not as one more column: the table already fills the page's width
    together = table.pop("Trained together")
    formats = {c: "{:.4g}" for c in table.select_dtypes("float").columns} | {
        "Skill vs persistence (mean)": "{:+.1%}", "Parameters": "{:,.0f}", "Seconds per epoch": "{:.3g}"}
    st.table(table.style.hide(axis="index").format({c: f for c, f in formats.items() if c in table}, na_rep="–"))
    how = "; ".join(f"{setting} {way}" for setting, way in zip(table["Setting"], together) if way)
    st.caption("Scores are each setting's networks' own, also where a run falls back to 'no change' because its "
               "network did not beat it on validation (Decision: = persistence); such a setting is never crowned. "
               f"Trained: {text.md(how)}. Trials that differ only in seed or L1/L2 train together as one "
               "computation, each with its own weights, batch order and early stopping (the same results as one "
               "at a time); their seconds per epoch are each one's share of the group's.")
    # Lazy tabs: only the open one runs and is drawn.
    t1, t2, t3, t4 = st.tabs(["Test error per setting", "RMSE / persistence", "Loss curves", "Every training"],
                             key="exp_tab", on_change="rerun")
    if t1.open:
        with t1:
            charts.show(spread_figure(frame, "test_rmse", order), key="exp_box_rmse")
            st.caption("Each dot is one training (one seed); the bar is the setting's median, the diamond with "
                       "whiskers its mean ± standard deviation. Lower is better.")
    if t2.open:
        with t2:
            charts.show(spread_figure(frame, "ratio", order), key="exp_box_ratio")
            st.caption("Each training's test RMSE over persistence's on the same windows: below 1 beats “tomorrow "
                       "equals today” (skill = 1 − this ratio).")
    if t3.open:
        with t3:
            column = st.radio("Curve", ["val_loss", "loss"], horizontal=True, key="exp_curve",
                              format_func={"val_loss": "validation loss", "loss": "training loss"}.get,
                              help="Loss per epoch of every training, coloured by setting.")
            charts.show(loss_curves_figure(exp.records, column, order), key="exp_curves")
    if t4.open:
        with t4:
            cols = ["label", "repeat", "seed", "status", "test_rmse", "ratio", "skill", "decision", "decision_p",
                    "best_val_loss", "epochs_run", "train_seconds", "run_dir", "error"]
            st.dataframe(frame[cols], hide_index=True, width="stretch")
            ok = frame[(frame["status"] == "ok") & frame["run_dir"].notna()]  # walk-forward trials keep no run
            if len(ok):
                keys = ok["key"].tolist()
                key = st.selectbox("Open a training", keys, key="exp_open_pick",
                                   format_func=lambda k: f"{ok.set_index('key').loc[k, 'label']} · repeat "
                                                         f"{ok.set_index('key').loc[k, 'repeat']}",
                                   help="Any training of the experiment is an ordinary run: open it on the Results page.")
                if st.button("Open on the Results page", key="exp_open",
                             help="Shows this training's forecasts, errors and baselines."):
                    run_dir = str(exp.dir / ok.set_index("key").loc[key, "run_dir"])
                    _open_run(run_dir)


def _open_run(run_dir: str) -> None:
    try:
        from ui import state

        select = getattr(state, "select_run", None)
        if select is not None:
            select(run_dir)
        st.switch_page("pages/4_Results.py")
    except StreamlitAPIException:  # no Results page here (or no navigation): say where the run is
        st.info(f"The run folder is {text.md(run_dir)}")


def body() -> None:
    st.title("Experiments")
    st.markdown("One training of a small network on prices is noisy: the same setting can land well or badly "
                "depending on its random start. An experiment trains every setting several times with different "
                "seeds (the same seeds for every setting) and shows the spread, so a real difference can be told "
                "from luck.")
    setup_form()
    if st.session_state.get("exp_mode") == SEARCH:
        search.search_panel()
        return
    progress_panel()
    results_panel()


common.run_page("Experiments", common.ICON["Experiments"], body)
