"""The Experiments page's "Search" mode: an Optuna study over settings of the current setup, run as a
dashboard job (``tune``), then its best trial, its test score beside persistence and Optuna's figures."""
from __future__ import annotations

import importlib.util

import plotly.io as pio
import streamlit as st

from pricecast.catalogue import FIELDS, field_named, format_value, with_overrides
from pricecast.durations import duration
from pricecast.errors import PricecastError
from pricecast.jobs.executors import JobError
from pricecast.jobs.job import JobState
from pricecast.service.dashboard import registry
from pricecast.tuning import DEFAULT_FIELDS, TuneSpec, best_setup, search_space, searchable_fields
from ui import charts, common, state, text
from ui.inputs import widget

KIND = "tune"


def optuna_installed() -> bool:
    return importlib.util.find_spec("optuna") is not None


def search_form() -> None:
    """The fields, trials and epochs to search with, and the button that starts the job."""
    if not optuna_installed():
        st.info("The search needs Optuna, which is not installed here: `pip install -r requirements-ml.txt`, "
                "then reload this page.")
        return
    spec, (since, until) = state.current_spec(), state.data_range()
    st.caption(f"Base: your current setup — {text.md(spec.headline())}, on {text.md(common.data_label(spec.data))}. "
               "Each trial trains it with the searched settings laid over it; the score is the network's validation "
               "RMSE over persistence's (below 1 beats “no change”). The test part is read once, for the best trial, after the search.")
    options = searchable_fields(spec)
    fields = st.multiselect("Settings to search", options, default=[f for f in DEFAULT_FIELDS if f in options],
                            key="exp_search_fields", format_func=lambda name: f"{name} — {field_named(name).help}"[:90],
                            help="Ranges come from the settings' limits: around your value for rates, sizes and "
                                 "penalties (log scale for wide ones), every choice for choices.")
    c1, c2 = st.columns(2)
    trials = c1.number_input("Trials", min_value=1, max_value=500, value=20, key="exp_search_trials",
                             help="How many trainings the search runs (hopeless ones are pruned early).")
    epochs = widget(FIELDS["epochs"], min(spec.train.epochs, 20), "exp_search_epochs", c2, label="Epochs per trial",
                    max_value=1000)
    try:
        base = with_overrides(spec, {"epochs": int(epochs)})
        tune = TuneSpec(base=base, space=tuple(search_space(fields, base)), trials=int(trials),
                        data_range=(since, until))
    except (PricecastError, ValueError) as exc:
        st.error(text.plain(exc))
        return
    for line in [d.describe() for d in tune.space] + [f"pruning: {tune.pruning()[1]}"]:
        st.caption(text.md(line))
    job = registry().latest(state.session_id(), KIND)
    busy = job is not None and not job.finished
    if st.button("Start search", type="primary", disabled=busy, key="exp_search_run",
                 help="Runs the trials in a worker process; the same choices again continue the same study."):
        _start(tune)


def _start(tune: TuneSpec) -> None:
    candles, error = state.load_current()
    if candles is None:
        st.error(error)
        return
    try:
        registry().submit(state.session_id(), KIND, {"tune": tune}, candles=candles,
                          label=f"search of {', '.join(d.name for d in tune.space)}")
    except JobError as exc:
        st.error(text.plain(exc))


def search_panel() -> None:
    """Progress while the search runs, then its outcome."""
    job = registry().latest(state.session_id(), KIND)
    if job is None:
        return
    if not job.finished:
        st.fragment(run_every=1.0)(_progress)(job.id)
        return
    snap = registry().snapshot(job)
    if snap.state is JobState.ERROR:
        st.error(snap.error)
    elif snap.result is not None:
        show_result(snap.result, job.task.payload.get("tune"))


def _progress(job_id: str) -> None:
    job = registry().get(state.session_id(), job_id)
    if job is None:
        return
    if job.finished:
        st.rerun(scope="app")  # the results are drawn by the full page run
    snap = registry().snapshot(job)
    st.progress(snap.progress, text=snap.text or "Starting the search (loading TensorFlow) …")


def show_result(result: dict, tune: TuneSpec | None) -> None:
    st.subheader("Search results")
    counts = result["trials"]
    st.caption(f"{counts['ran']} trials: {counts['complete']} complete, {counts['pruned']} pruned, "
               f"{counts['failed']} failed, in {duration(result['seconds'])}. Pruning: "
               f"{text.md(result['pruning'])}. Study {text.md(result['study'])}.")
    best = result.get("best")
    if best is None:
        st.warning("No trial finished with a score; try more epochs or other settings.")
        return
    st.markdown(f"**Best trial: {best['number']}** — validation RMSE / persistence **{best['value']:.4f}** "
                f"({'beats' if best['value'] < 1 else 'does not beat'} “no change” on validation)")
    st.table({"Setting": list(best["params"]),
              "Value": [f"{v:.4g}" if isinstance(v, float) else format_value(v) for v in best["params"].values()]})
    test = result.get("test")
    if test and test.get("rmse") is not None:
        st.markdown(f"Its test score, read once after the search: RMSE **{test['rmse']:.4g}** beside persistence "
                    f"**{test['persistence_rmse']:.4g}** (ratio {test['ratio']:.3f}; the run's decision: "
                    f"{text.md(str(test.get('decision')))}).")
    if tune is not None and st.button("Use this setup", key="exp_search_use", icon=":material/check:",
                                      help="Makes the best trial's setup the current one for the Model and Train pages."):
        state.set_spec(best_setup(tune, best["params"]))
        st.success("The best trial's setup is now your current setup (see the Model and Train pages).")
    for name, figure in result.get("figures", {}).items():  # Optuna's own, titled by Optuna
        if figure.lstrip().startswith("{"):
            charts.show(pio.from_json(figure), key=f"exp_search_{name}")
        else:  # why Optuna could not draw it (e.g. importances where every trial took the same values)
            st.caption(f"{name.capitalize()} not drawn: {text.md(figure)}")
