"""Runs: every saved run in a table, loss curves compared, downloads, delete."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from pricecast.data.datasets import display_name
from pricecast.training.runs import READ_ONLY_ENV, delete_run, load_run, read_only_runs, scan_runs
from ui import charts, common, links, state, text


def _table(rows: list[dict], session: set[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame.insert(0, "this tab", frame["run_dir"].isin(session))
    frame["data"] = frame["data"].map(display_name)
    frame["skill"] = frame["skill"] * 100  # shown as "+1.2%"
    frame["time"] = pd.to_datetime(frame["run"].str[:15], format="%Y%m%d-%H%M%S", errors="coerce", utc=True)
    return frame


def run_label(row: dict) -> str:
    """Short and readable: "11-25 06:45:12 · default · sample:AAPL" (the folder name is for the file system)."""
    s = row["run"]  # YYYYMMDD-HHMMSS-...
    when = f"{s[4:6]}-{s[6:8]} {s[9:11]}:{s[11:13]}:{s[13:15]}" if len(s) >= 15 and s[8] == "-" else s
    return f"{when} · {row['preset'] or row['arch']} · {display_name(row['data'])}"


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
    from pricecast.plots.runs import runs_loss_figure

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
        column_order=["this tab", "time", "preset", "data", "skill", "test_rmse", "persistence_rmse", "decision",
                      "decision_p", "arch", "n", "k", "params", "epochs", "seconds", "best_val_loss"],
        column_config={
            "this tab": st.column_config.CheckboxColumn("Tab", help="Trained in this browser tab.", width="small"),
            "time": st.column_config.DatetimeColumn("Trained", format="MM-DD HH:mm", help="When the run finished (UTC)."),
            "preset": st.column_config.TextColumn("Setup", help="The preset, or 'custom (from …)' after edits."),
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
    compare = st.multiselect("Compare loss curves of", dirs, default=dirs[: min(5, len(dirs))], format_func=labels.get,
                             key="runs_compare", help="Pick runs to overlay their loss curves. Lower validation loss is better; "
                             "a curve that turns up again shows overfitting.")
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
