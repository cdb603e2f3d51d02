"""``--mlflow [URI]``, ``--mlflow-experiment`` and ``--tensorboard``: the tracking options the
training commands share (:mod:`pricecast.tracking` does the logging)."""
from __future__ import annotations

import argparse

from pricecast.cli.common import progress
from pricecast.optional import import_optional
from pricecast.tracking import DEFAULT_EXPERIMENT, ENV_URI, MlflowTracker, mlflow_installed, tracking_uri


def add_tracking_options(parser: argparse.ArgumentParser, tensorboard: bool = True, detached: bool = False) -> None:
    group = parser.add_argument_group("tracking")
    group.add_argument("--mlflow", nargs="?", const="", default=None, metavar="URI",
                       help=f"log to MLflow (setup, losses per epoch, scores with the baselines, the run folder); "
                            f"URI default: ${ENV_URI}, else sqlite:///<home>/mlflow.db. Setting ${ENV_URI} "
                            "alone also turns it on")
    group.add_argument("--mlflow-experiment", default=DEFAULT_EXPERIMENT, help="the MLflow experiment's name")
    if detached:
        group.add_argument("--mlflow-wait", action="store_true",
                           help="log before the command ends (default: a background process logs the saved run, so "
                                "the command never waits for MLflow)")
    if tensorboard:
        group.add_argument("--tensorboard", action="store_true",
                           help="write TensorBoard logs (losses per epoch) into the run folder's tensorboard/")


def tracker_from_args(args: argparse.Namespace) -> MlflowTracker | None:
    """The tracker the options and environment ask for (None: off). ``--mlflow`` without MLflow
    installed is an error before anything trains; the environment variable alone only warns."""
    uri = tracking_uri(getattr(args, "mlflow", None))
    if uri is None:
        return None
    if not mlflow_installed():
        if args.mlflow is not None:
            import_optional("mlflow", "MLflow tracking (--mlflow)")  # raises with the install line
        progress(f"warning: {ENV_URI} is set but MLflow is not installed (python -m pip install -r "
                 "requirements-ml.txt); runs are not logged")
        return None
    progress(f"logging to MLflow at {uri} (experiment {args.mlflow_experiment})")
    return MlflowTracker(uri, args.mlflow_experiment, warn=lambda text: progress(f"warning: {text}"))

