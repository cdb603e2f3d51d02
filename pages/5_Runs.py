"""Runs: every saved run in a table; two or more compared (what differs, scores, a paired test, their
forecasts overlaid, "repeat them" as an experiment); loss curves; downloads, delete."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from pricecast.data.datasets import display_name
from pricecast.training.runs import READ_ONLY_ENV, delete_run, load_run, read_only_runs, saved_at, scan_runs
from ui import charts, common, links, state, text


def _table(rows: list[dict], session: set[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame.insert(0, "this tab", frame["run_dir"].isin(session))
    frame["data"] = frame["data"].map(display_name)
    frame["skill"] = frame["skill"] * 100  # shown as "+1.2%"
    frame["time"] = pd.to_datetime(frame["run"].map(saved_at), utc=True)  # NaT for a folder named otherwise
    return frame


def run_label(row: dict) -> str:
    """Short and readable: "11-25 06:45:12 · GRU · N=60 · sample:AAPL" (the folder name is for the file system)."""
    saved = saved_at(row["run"])
    when = saved.strftime("%m-%d %H:%M:%S") if saved else row["run"]
    return f"{when} · {row.get('label') or row['preset'] or row['arch']} · {display_name(row['data'])}"


@st.cache_data(show_spinner=False, max_entries=4)
def _compared(dirs: tuple[str, ...], stamps: tuple[float, ...]):
    """The comparison, read once per choice of runs (``stamps``: their files' times, so a run saved
    again under the same name is read anew); reruns (the step slider, the curve switch) reuse it."""
    from pricecast.compare import compare_runs

    return compare_runs(list(dirs))


def _stamp(run_dir: str) -> float:
    try:
        return (Path(run_dir) / "predictions.csv").stat().st_mtime
    except OSError:
        return 0.0


def _comparison(dirs: list[str]):
    """Two or more runs side by side: what differs, their scores, the paired test, the overlay."""
    from pricecast.compare import CompareError
    from pricecast.plots.runs import compare_forecasts_figure
    from ui import text

    try:
        comparison = _compared(tuple(dirs), tuple(_stamp(d) for d in dirs))
    except (CompareError, OSError, ValueError) as exc:
        st.error(text.plain(exc))
        return None
    for sentence in comparison.sentences:
        st.markdown(f"**{text.md(sentence)}**")
    if comparison.differing:
        st.markdown("**Settings that differ**")
        st.dataframe(comparison.differing_frame(), width="stretch")
    else:
        st.caption("No setting differs: these are trainings of one setup (another seed, or trained again).")
    scores = comparison.scores_frame()
    for col in ("network_skill", "used_skill"):
        scores[col] = scores[col] * 100
    st.dataframe(scores, hide_index=True, width="stretch", column_order=[
        "run", "label", "data", "network_skill", "network_rmse", "decision", "decision_p", "used_skill", "used_rmse",
        "persistence_rmse", "test_forecasts"], column_config={
        "run": st.column_config.TextColumn("Run", help="Named by the settings that differ."),
        "label": st.column_config.TextColumn("Setup", help="What differs from its preset."),
        "network_skill": st.column_config.NumberColumn("Network skill", format="%+.1f%%",
                                                       help="The network's own 1 − RMSE / persistence RMSE on the test part."),
        "network_rmse": st.column_config.NumberColumn("Network RMSE", format="%.4g"),
        "decision": st.column_config.TextColumn("Uses", help="The network, or 'no change' where it did not beat it on validation."),
        "decision_p": st.column_config.NumberColumn("p (val)", format="%.2g"),
        "used_skill": st.column_config.NumberColumn("Used skill", format="%+.1f%%",
                                                    help="Skill of the forecast the run uses (0 where it uses 'no change')."),
        "used_rmse": st.column_config.NumberColumn("Used RMSE", format="%.4g"),
        "persistence_rmse": st.column_config.NumberColumn("Persistence RMSE", format="%.4g"),
        "test_forecasts": st.column_config.NumberColumn("Test forecasts", help="Forecasts (windows × steps) on the test part."),
    })
    for note in comparison.notes:
        st.caption(text.md(note))
    forecasts = {r.name: f for r, f in zip(comparison.runs, comparison.forecasts)}
    steps = sorted({int(s) for f in comparison.forecasts for s in f["step"].unique()}) or [1]
    step = st.select_slider("Steps ahead", steps, value=steps[0], key="runs_cmp_step",
                            help="Which of the K forecast steps to draw.") if len(steps) > 1 else steps[0]
    charts.show(compare_forecasts_figure(forecasts, step=int(step), target=_target_word(comparison.runs)),
                key="runs_cmp_overlay")
    _repeat(comparison)
    return comparison


def _target_word(runs) -> str:
    targets = {r.target for r in runs}
    if len(targets) > 1:
        return "value"
    (target,) = targets
    return "price" if target in ("open", "high", "low", "close") else target


def _repeat(comparison) -> None:
    """Train each compared setup 3 more times (new seeds) as an experiment job, as the Experiments page does."""
    from pricecast.compare import CompareError, repeat_experiment
    from pricecast.experiments.storage import prepare_folder
    from pricecast.jobs.executors import JobError
    from pricecast.service.dashboard import registry
    from pricecast.service.experiments import default_workers
    from ui import text

    try:
        exp = repeat_experiment(comparison)
    except CompareError as exc:
        st.caption(text.md(str(exc)))
        return
    job = registry().latest(state.session_id(), "experiment")
    busy = job is not None and not job.finished
    trainings = len(exp.variations) * exp.repeats
    if st.button(f"Repeat {'both' if len(exp.variations) == 2 else 'each'} 3x", key="runs_repeat", disabled=busy,
                 help=f"An experiment of {trainings} trainings: each compared setup 3 times with new seeds, so one "
                      "lucky or unlucky training does not decide. " + ("An experiment is running already." if busy else "")):
        try:
            prepare_folder(exp)
            registry().submit(state.session_id(), "experiment", {"exp": exp, "executor": "local",
                                                                 "workers": default_workers(), "address": None},
                              label=exp.name)
        except (ValueError, OSError, JobError) as exc:
            st.error(text.plain(exc))
            return
        st.session_state["exp_selected"] = exp.name  # the Experiments page opens on it
        st.session_state["runs_repeat_started"] = exp.name
    if st.session_state.get("runs_repeat_started") == exp.name:
        st.success(f"Started experiment {exp.name}: {exp.title}, {trainings} trainings.")
        st.page_link("pages/6_Experiments.py", label="Follow it on Experiments", icon=common.ICON["Experiments"])


def _windows_h5(run_dir: str) -> bytes:
    """The run's windows in the tutorial's HDF5 layout, built on demand into a temporary file."""
    from pricecast.prep.windows import make_windows
    from pricecast.training.runs import export_windows_h5, load_run

    run = load_run(run_dir)
    candles = state.candles_of(run.spec.data)
    wset = make_windows(candles, run.spec.window, require=())
    with tempfile.TemporaryDirectory() as tmp:
        path = export_windows_h5(wset, run.scaler, Path(tmp) / "windows.h5")
        return path.read_bytes()


def _downloads(run_dir: str) -> None:
    folder = Path(run_dir)
    name = folder.name
    c = st.columns(4)
    for col, (file, label, mime, help_text) in zip(c, [
        ("model.keras", "Model (.keras)", "application/octet-stream", "The trained network, loadable with keras.models.load_model."),
        ("history.csv", "Loss history (.csv)", "text/csv", "Training and validation loss per epoch."),
        ("predictions.csv", "Predictions (.csv)", "text/csv", "Every forecast with the actual value and the baselines."),
    ]):
        path = folder / file
        if path.exists():
            col.download_button(label, data=path.read_bytes, file_name=f"{name}-{file}", mime=mime, help=help_text,
                                key=f"runs_dl_{file}")
    c[3].download_button("Windows (.h5)", data=lambda: _windows_h5(run_dir), file_name=f"{name}-windows.h5",
                         mime="application/x-hdf5", key="runs_dl_h5",
                         help="The training examples (inputs and targets, scaled and in prices) as HDF5, built when you click.")


SCRIPT = "pc_runs_script"  # (run folder, script text) once made


def _script(run_dir: str) -> None:
    """A standalone training script (numpy, pandas, keras) and the run's candles beside it. The script is
    written in a worker process: its network code reads Keras' layer defaults."""
    from pricecast.report.script import candles_csv

    name = Path(run_dir).name
    made = st.session_state.get(SCRIPT)
    if not made or made[0] != run_dir:
        if st.button("Make a training script (.py)", key="runs_script", icon=":material/code:",
                     help="A readable Python file that needs only numpy, pandas and keras: the same split, scaling, "
                          "windows and network, trained with this run's settings; it prints the test RMSE beside "
                          "persistence. Written in a worker process (the first time loads TensorFlow)."):
            try:
                text = common.quick_job("script", {"run_dir": run_dir, "data_file": f"{name}-data.csv"},
                                        what="Writing the script")
            except ValueError as exc:  # a run the script cannot reproduce (derived inputs): says which
                st.warning(text.plain(exc))
                return
            st.session_state[SCRIPT] = made = (run_dir, text)
        else:
            return
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button("Script (.py)", data=made[1], file_name=f"{name}-train_again.py", mime="text/x-python",
                       key="runs_dl_script", help="Save it beside its data file and run it with python.")
    c2.download_button("Its data (.csv)", data=lambda: candles_csv(state.candles_of(load_run(run_dir).spec.data)),
                       file_name=f"{name}-data.csv", mime="text/csv",
                       key="runs_dl_script_data", help="The run's candles, as the script reads them.")


def _link(run_dir: str) -> None:
    """The address that opens this run's results on this server, with a copy button."""
    st.caption("Link to this result (opens Results on this run, on this server; the copy button is on the right):")
    st.code(links.result_link(run_dir), language=None)


def _delete(run_dir: str) -> None:
    with st.expander("Delete this run"):
        sure = st.checkbox(f"Yes, delete {Path(run_dir).name} for good", key=f"runs_del_sure_{run_dir}",
                           help="The run's folder (model, history, predictions) is removed from this computer.")
        if st.button("Delete", type="primary", disabled=not sure, key="runs_del",
                     help="Remove the run (tick the box above first)."):
            try:
                delete_run(run_dir)
            except (ValueError, OSError) as exc:
                st.error(text.plain(exc))
                return
            if state.selected_run_dir() == run_dir:
                state.select_run(None)
            st.toast(f"Deleted {Path(run_dir).name}")
            st.rerun()


def body() -> None:
    from pricecast.compare import loss_note
    from pricecast.plots.runs import runs_loss_figure
    from ui import text

    st.title("Runs")
    st.caption("Every run saved on this computer, newest first. Runs trained in this browser tab are ticked.")
    listing = scan_runs()
    for note in listing.notes:
        st.warning(text.md(note))
    rows = listing.rows
    if not rows:
        st.info("No runs yet. Train a model first.")
        st.page_link("pages/3_Train.py", label="Go to Train", icon=common.ICON["Train"])
        return
    session = set(state.session_run_dirs())
    frame = _table(rows, session)
    if "data" in frame:
        frame["data"] = frame["data"].map(common.data_label)  # uploads by their file name
    st.dataframe(
        frame, hide_index=True, width="stretch",
        # The verdict (skill and the two RMSEs) right after what was trained, so it is never scrolled off.
        column_order=["this tab", "time", "label", "data", "skill", "test_rmse", "persistence_rmse", "decision",
                      "decision_p", "arch", "n", "k", "params", "epochs", "seconds", "best_val_loss"],
        column_config={
            "this tab": st.column_config.CheckboxColumn("Tab", help="Trained in this browser tab.", width="small"),
            "time": st.column_config.DatetimeColumn("Trained", format="MM-DD HH:mm", help="When the run finished (UTC)."),
            "label": st.column_config.TextColumn("Setup", help="The preset, or its network and what differs from the "
                                                               "preset (\"GRU · N=60\")."),
            "data": st.column_config.TextColumn("Data"),
            "arch": st.column_config.TextColumn("Net", width="small"),
            "n": st.column_config.NumberColumn("N", help="Past candles in.", width="small"),
            "k": st.column_config.NumberColumn("K", help="Future candles out.", width="small"),
            "params": st.column_config.NumberColumn("Params", help="Size of the network.", width="small"),
            "epochs": st.column_config.NumberColumn("Epochs", width="small"),
            "seconds": st.column_config.NumberColumn("Seconds", format="%.1f", help="Training time.", width="small"),
            "best_val_loss": st.column_config.NumberColumn("Best val loss", format="%.3g", help="Lowest validation loss (scaled units)."),
            "test_rmse": st.column_config.NumberColumn("Network test RMSE", format="%.4g",
                                                       help="The network's own error on the test part, in price units "
                                                            "(also where the run uses 'no change' instead)."),
            "decision": st.column_config.TextColumn(
                "Uses", help="The forecast the run uses: its network, or 'no change' (persistence) where the network "
                             "did not beat it on validation."),
            "decision_p": st.column_config.NumberColumn(
                "p (val)", format="%.2g", help="Paired-test p of the network's gain over 'no change' on validation "
                                               "(times the epochs it was picked from); below 0.05: the network is used."),
            "persistence_rmse": st.column_config.NumberColumn(
                "Persistence RMSE", format="%.4g", help="Error of 'no change' on the same part."),
            "skill": st.column_config.NumberColumn(
                "Skill", format="%+.1f%%",
                help="The network's 1 − test RMSE / persistence RMSE, in %: above 0 beats persistence on the test part."),
        })
    labels = {r["run_dir"]: run_label(r) for r in rows}
    dirs = [r["run_dir"] for r in rows]
    st.subheader("Compare runs")
    compare = st.multiselect("Runs", dirs, default=dirs[: min(2, len(dirs))], format_func=labels.get,
                             key="runs_compare", help="Pick two or more: the settings that differ, their scores, whether "
                             "the difference is more than noise, their forecasts and loss curves overlaid.")
    comparison = _comparison(compare) if len(compare) >= 2 else None
    st.markdown("**Loss curves**")
    if comparison is not None and loss_note(comparison.differing):
        st.warning(text.md(loss_note(comparison.differing)))  # scaled losses of other windows: never silently
    column = st.radio("Curve", ["val_loss", "loss"], horizontal=True, key="runs_curve",
                      format_func={"val_loss": "Validation loss", "loss": "Training loss"}.get,
                      help="Validation loss is measured on data the model does not train on.")
    histories = {}
    for d in compare:
        try:
            histories[labels[d]] = pd.read_csv(Path(d) / "history.csv")
        except (OSError, ValueError):
            continue
    if histories:
        charts.show(runs_loss_figure(histories, column), key="runs_overlay")
    st.subheader("One run")
    current = state.selected_run_dir()
    chosen = st.selectbox("Run", dirs, index=dirs.index(current) if current in dirs else 0, format_func=labels.get,
                          key="runs_one", help="The run to download, open or delete.")
    if st.button("Open in Results", key="runs_open", help="Show this run's charts and metrics on the Results page."):
        state.select_run(chosen)
        st.switch_page("pages/4_Results.py")
    if read_only_runs() and chosen not in session:  # a shared server: others' runs are to look at only
        st.info(f"Read-only: this run was not trained in this browser tab, so it cannot be downloaded or "
                f"deleted here ({READ_ONLY_ENV} is set on this server).")
        return
    _downloads(chosen)
    _script(chosen)
    _link(chosen)
    _delete(chosen)


common.run_page("Runs", common.ICON["Runs"], body)
