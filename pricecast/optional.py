"""Optional packages (Optuna, MLflow), imported only when a command asks for them, with one plain
message naming the requirements file when one is missing."""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from pricecast.errors import PricecastError

ML_REQUIREMENTS = "requirements-ml.txt"


class MissingPackageError(PricecastError):
    """An optional package a command needs is not installed."""


def import_optional(module: str, purpose: str, requirements: str = ML_REQUIREMENTS) -> ModuleType:
    """``module`` imported, or :class:`MissingPackageError` saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        raise MissingPackageError(f"{purpose} needs the optional '{package}' package: "
                                  f"python -m pip install -r {requirements}") from exc


def require_installed(module: str, purpose: str, requirements: str = ML_REQUIREMENTS) -> None:
    """Check, without importing it, that ``module`` is installed (:class:`MissingPackageError` if not),
    so a command fails before it trains rather than after."""
    if importlib.util.find_spec(module) is None:
        raise MissingPackageError(f"{purpose} needs the optional '{module}' package: "
                                  f"python -m pip install -r {requirements}")
