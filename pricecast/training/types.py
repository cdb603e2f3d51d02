"""The types training hands to the rest of the library: what :func:`~pricecast.training.pipeline.prepare`
derives from the data (:class:`Prepared`) and a trained run (:class:`Run`), with their errors.

They live apart from the pipeline so that the run folders (``runs``), the look-ahead controls and
the prediction of a saved run can use them without importing the pipeline that produces them.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pricecast.data.quality import QualityReport
from pricecast.errors import PricecastError
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import ExampleCounts, WindowSet
from pricecast.specs import RunSpec


@dataclass
class Prepared:
    """Everything derived from the data before a model exists."""

    spec: RunSpec
    candles: pd.DataFrame
    windows: WindowSet
    scaler: Scaler
    counts: ExampleCounts
    warnings: list[str] = field(default_factory=list)
    quality: QualityReport | None = None


@dataclass
class Run:
    """A finished (or stopped) training run and its folder."""

    run_dir: Path
    spec: RunSpec
    history: pd.DataFrame
    metrics: dict
    predictions: pd.DataFrame
    forecast: pd.DataFrame
    scaler: Scaler
    model: Any = None

    @property
    def device(self) -> str:
        return self.metrics.get("device", "")

    def load_model(self):
        if self.model is None:
            import keras

            from pricecast.models import layers  # noqa: F401  (registers LastValue for deserialisation)

            path = self.run_dir / "model.keras"
            try:
                self.model = keras.models.load_model(path)
            except Exception as exc:
                # Keras says "File not found" for any file it cannot open as a zip
                if path.exists() and not _is_whole_zip(path):
                    raise ModelFileError(f"the model file {path} is damaged (cut short or overwritten, not a "
                                         "complete .keras file): train this run again") from exc
                raise
        return self.model


class RunSaveError(PricecastError, OSError):
    """The trained run could not be written (disk full, no permission...). ``run`` is the trained
    run in memory, so a caller can still show it or try another folder."""

    def __init__(self, message: str, run: Run | None = None) -> None:
        super().__init__(message)
        self.run = run


class ModelFileError(PricecastError):
    """A run's model.keras exists but cannot be read."""


class RunFileError(PricecastError):
    """A run's JSON file (spec, metrics, scaler) exists but cannot be read; the message names it."""


def _is_whole_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False
