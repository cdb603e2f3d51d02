"""Runs logged to MLflow and TensorBoard, from outside the training loop.

MLflow (:class:`MlflowTracker`) logs a finished run from what it saved: the setup as params (every
catalogue setting), the per-epoch losses as step metrics, the final scores of every part beside the
baselines, the decision (when the run's metrics hold one), and the run folder (model included) as
artifacts. It is off unless ``PRICECAST_MLFLOW_URI`` or ``--mlflow [URI]`` turns it on; with no URI
it writes ``sqlite:///<home>/mlflow.db``. Logging happens after the run is saved, so a tracking
server that is down or refuses costs a warning, never the run.

TensorBoard (:class:`TensorBoardLogger`) is a training listener: it writes each epoch's losses as
it ends (the layout Keras's TensorBoard callback uses: ``train/`` and ``validation/``,
``epoch_loss``), into a folder that :meth:`TensorBoardLogger.move_into` puts inside the run folder.

MLflow is optional (``requirements-ml.txt``) and imported only when a run is logged.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pricecast.catalogue import FIELDS, format_value
from pricecast.events import Epoch, Event
from pricecast.optional import import_optional, require_installed
from pricecast.paths import home
from pricecast.specs import RunSpec
from pricecast.training.types import Run

ENV_URI = "PRICECAST_MLFLOW_URI"
DEFAULT_EXPERIMENT = "pricecast"
PARTS: tuple[str, ...] = ("train", "val", "test")
BASELINES: tuple[str, ...] = ("persistence", "drift", "moving_average")
SCORES: tuple[str, ...] = ("rmse", "mae", "mape", "direction")
PROBE_TIMEOUT_S = 3.0

Warn = Callable[[str], None]


def default_uri() -> str:
    return f"sqlite:///{home() / 'mlflow.db'}"


def tracking_uri(flag: str | None = None) -> str | None:
    """Where runs are logged: ``--mlflow URI`` (``flag``; "" = given without a URI), else
    ``PRICECAST_MLFLOW_URI``, else nowhere (None). A flag or variable without a URI means the
    local default, :func:`default_uri`."""
    if flag is not None:
        return flag.strip() or os.environ.get(ENV_URI, "").strip() or default_uri()
    env = os.environ.get(ENV_URI)
    if env is None or env.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    return default_uri() if env.strip().lower() in ("1", "on", "yes", "true", "local") else env.strip()


def mlflow_installed() -> bool:
    return importlib.util.find_spec("mlflow") is not None


def setup_params(spec: RunSpec) -> dict[str, str]:
    """Every catalogue setting of a setup, as the text the CLI and links read."""
    return {f.name: format_value(getattr(getattr(spec, f.section) if f.section else spec, f.name))
            for f in FIELDS.values()}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def final_scores(metrics: Mapping[str, Any]) -> dict[str, float]:
    """``test_rmse``, ``test_persistence_rmse``, ``test_skill``, ... for every part, model and baselines
    (non-finite values left out: MLflow stores numbers)."""
    out: dict[str, float] = {}
    for part in PARTS:
        report = metrics.get(part) or {}
        for forecaster in ("model", *BASELINES):
            scores = report.get(forecaster) or {}
            prefix = f"{part}_" if forecaster == "model" else f"{part}_{forecaster}_"
            out.update({prefix + s: float(scores[s]) for s in SCORES if _finite(scores.get(s))})
        if _finite(report.get("skill")):
            out[f"{part}_skill"] = float(report["skill"])
    for key in ("best_epoch", "epochs_run", "best_val_loss", "train_seconds", "params"):
        if _finite(metrics.get(key)):
            out["model_params" if key == "params" else key] = float(metrics[key])
    out["ended_as_persistence"] = float(bool(metrics.get("ended_as_persistence")))
    return out


def _reachable(uri: str) -> str | None:
    """None when an HTTP tracking server answers, else why not (file and database URIs: None)."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S):
            return None
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


class MlflowTracker:
    """Logs finished runs to one MLflow tracking URI and experiment; failures become warnings."""

    def __init__(self, uri: str, experiment: str = DEFAULT_EXPERIMENT, warn: Warn | None = None) -> None:
        self.uri, self.experiment = uri, experiment
        self.warn = warn or (lambda text: None)
        self._client: Any = None
        self._experiment_id: str | None = None

    def _artifact_location(self) -> str | None:
        """For a local SQLite store, artifacts beside the database (MLflow's default is ./mlruns in
        whatever folder the command ran from)."""
        if self.uri.startswith("sqlite:///"):
            return (Path(self.uri[len("sqlite:///"):]).parent / "mlartifacts").resolve().as_uri()
        return None

    def _connect(self) -> tuple[Any, str]:
        if self._client is None:
            mlflow = import_optional("mlflow", "MLflow tracking (--mlflow, PRICECAST_MLFLOW_URI)")
            for name in ("mlflow", "alembic"):  # their INFO lines (creating tables ...) would bury the progress
                logging.getLogger(name).setLevel(logging.WARNING)
            # a down server: fail in seconds, not after MLflow's minutes of retries
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
            client = mlflow.MlflowClient(tracking_uri=self.uri)
            found = client.get_experiment_by_name(self.experiment)
            self._experiment_id = (found.experiment_id if found is not None else
                                   client.create_experiment(self.experiment,
                                                            artifact_location=self._artifact_location()))
            self._client = client
        return self._client, str(self._experiment_id)

    def log_run(self, run: Run, tags: Mapping[str, str] | None = None, kind: str = "train") -> str | None:
        """Log ``run`` (saved: its folder exists); the MLflow run id, or None after a warning."""
        return self._guarded(f"the run is saved in {run.run_dir}", lambda: self._log_run(run, dict(tags or {}), kind))

    def log_backtest(self, spec: RunSpec, summary: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> str | None:
        """Log a walk-forward backtest from its JSON summary (``BacktestResult.to_dict()``): the setup,
        the pooled test scores of the model and the baselines, each fold's as steps, the summary as an artifact."""
        return self._guarded("the backtest's results are printed above",
                             lambda: self._log_backtest(spec, summary, dict(tags or {})))

    def _guarded(self, kept: str, log: Callable[[], str]) -> str | None:
        problem = _reachable(self.uri)
        if problem is not None:
            self.warn(f"MLflow at {self.uri} cannot be reached ({problem}); not logged ({kept})")
            return None
        try:
            return log()
        except Exception as exc:  # noqa: BLE001  MLflow raises many kinds (REST, SQL, file); the run must survive all
            self.warn(f"could not log to MLflow at {self.uri} ({type(exc).__name__}: {exc}); {kept}")
            return None

    def _start(self, spec: RunSpec, name: str, tags: dict[str, str]) -> tuple[Any, str, int]:
        from mlflow.entities import Param

        client, experiment_id = self._connect()
        tags = {"data": spec.data, "arch": spec.model.arch, "preset": spec.preset or "", **tags}
        created = client.create_run(experiment_id, run_name=name, tags=tags)
        params = [Param(k, v[:6000]) for k, v in setup_params(spec).items()]
        for i in range(0, len(params), 100):  # log_batch takes at most 100 params per call
            client.log_batch(created.info.run_id, params=params[i:i + 100])
        return client, created.info.run_id, created.info.start_time or 0

    @staticmethod
    def _metrics(client: Any, run_id: str, metrics: list) -> None:
        for i in range(0, len(metrics), 1000):  # ... and at most 1000 metrics
            client.log_batch(run_id, metrics=metrics[i:i + 1000])

    def _log_run(self, run: Run, tags: dict[str, str], kind: str) -> str:
        from mlflow.entities import Metric, RunTag

        client, run_id, stamp = self._start(run.spec, Path(run.run_dir).name, {
            "pricecast.kind": kind, "pricecast.run_dir": str(run.run_dir), "device": run.device, **tags})
        metrics = [Metric(k, v, stamp, 0) for k, v in final_scores(run.metrics).items()]
        history = run.history
        for column in [c for c in history.columns if c not in ("epoch", "seconds")]:
            for epoch, value in zip(history["epoch"], history[column]):
                if _finite(float(value)):
                    metrics.append(Metric(str(column), float(value), stamp, int(epoch)))
        self._metrics(client, run_id, metrics)
        decision = run.metrics.get("decision")
        if decision is not None:
            if isinstance(decision, Mapping):
                client.log_dict(run_id, dict(decision), "decision.json")
            else:
                client.log_batch(run_id, tags=[RunTag("decision", str(decision)[:5000])])
        client.log_artifacts(run_id, str(run.run_dir), "run")
        client.set_terminated(run_id)
        return run_id

    def _log_backtest(self, spec: RunSpec, summary: Mapping[str, Any], tags: dict[str, str]) -> str:
        from mlflow.entities import Metric

        client, run_id, stamp = self._start(spec, "backtest", {"pricecast.kind": "backtest", **tags})
        overall = summary.get("overall") or {}
        metrics = [Metric("test_skill", float(overall["skill"]), stamp, 0)] if _finite(overall.get("skill")) else []
        for forecaster, scores in overall.items():
            if isinstance(scores, Mapping):
                prefix = "test_" if forecaster == "model" else f"test_{forecaster}_"
                metrics += [Metric(prefix + m, float(v), stamp, 0) for m, v in scores.items() if _finite(v)]
        for fold in summary.get("folds") or []:
            metrics += [Metric(f"fold_{key}", float(fold[key]), stamp, int(fold["fold"]))
                        for key in ("rmse", "persistence_rmse", "skill") if _finite(fold.get(key))]
        self._metrics(client, run_id, metrics)
        client.log_dict(run_id, json.loads(json.dumps(summary, default=str)), "backtest.json")
        client.set_terminated(run_id)
        return run_id


def log_run_detached(run_dir: Path | str, uri: str, experiment: str = DEFAULT_EXPERIMENT) -> subprocess.Popen:
    """Log a saved run from a separate process, so the command that trained it ends at once: importing
    MLflow and checking a store's schema take seconds (docs/BENCHMARKS.md section 11), which a short run
    would otherwise wait for. Its warnings go to this process's stderr, as lines starting ``pricecast:``."""
    return subprocess.Popen([sys.executable, "-m", "pricecast.tracking", str(run_dir), uri, experiment],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)


def _main(argv: list[str]) -> int:
    """``python -m pricecast.tracking RUN_DIR URI [EXPERIMENT]``: what :func:`log_run_detached` runs."""
    from pricecast.training.runs import load_run

    run_dir, uri, *rest = argv
    warned: list[str] = []

    def warn(text: str) -> None:
        warned.append(text)
        print(f"pricecast: warning: {text}", file=sys.stderr, flush=True)

    try:
        run = load_run(run_dir)
    except (OSError, ValueError) as exc:
        warn(f"{run_dir} could not be logged to MLflow: {exc}")
        return 1
    MlflowTracker(uri, rest[0] if rest else DEFAULT_EXPERIMENT, warn=warn).log_run(run)
    return 1 if warned else 0


class TensorBoardLogger:
    """A training listener writing each epoch's losses as TensorBoard scalars, as Keras's callback
    lays them out. Writes to a temporary folder until :meth:`move_into` the run folder."""

    def __init__(self) -> None:
        require_installed("tensorboard", "TensorBoard logs (--tensorboard)")
        self.logdir = Path(tempfile.mkdtemp(prefix="pricecast-tensorboard-"))
        self._writers: dict[str, Any] = {}

    def _writer(self, name: str) -> Any:
        if name not in self._writers:
            import tensorflow as tf  # called from training's listener: TensorFlow is loaded by then

            self._writers[name] = tf.summary.create_file_writer(str(self.logdir / name))
        return self._writers[name]

    def __call__(self, event: Event) -> None:
        if not isinstance(event, Epoch):
            return
        import tensorflow as tf

        for name, value in (("train", event.loss), ("validation", event.val_loss)):
            if value is not None and math.isfinite(value):
                writer = self._writer(name)
                with writer.as_default():
                    tf.summary.scalar("epoch_loss", value, step=event.epoch)
                writer.flush()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def move_into(self, run_dir: Path | str) -> Path:
        """Close the writers and move the logs to ``<run_dir>/tensorboard``."""
        self.close()
        target = Path(run_dir) / "tensorboard"
        shutil.move(str(self.logdir), str(target))
        return target

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.logdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
