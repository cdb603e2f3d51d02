"""What a job is, as the job machinery (executors, workers, registry) sees it: a :class:`Task` of
plain data, and the :class:`Runner` that knows how to do it. The machinery never imports what the
tasks do; whoever submits work passes its runner (the dashboard's in :mod:`.tasks`, an experiment's
trials in :mod:`pricecast.service.trials`), which reaches a worker process by reference."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ENV_PREFIX = "PRICECAST_"


def settings_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


def apply_env(env: dict[str, str]) -> None:
    """Take over the submitting process's pricecast settings (PRICECAST_HOME ...)."""
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


@dataclass
class Task:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    candles: pd.DataFrame | None = None
    # pricecast's own settings (PRICECAST_HOME ...) as they were when the job was submitted: a
    # worker started earlier, with TensorFlow loaded in advance, must still use today's folders.
    env: dict[str, str] = field(default_factory=settings_env)


def nothing() -> None:
    return None


def no_remote_folder(task: Task, result: Any, scratch: Path) -> Path | None:
    return None


def nothing_to_prepare(task: Task, scratch: str) -> None:
    return None


def result_as_is(kind: str, local: dict, result: Any, files: dict[str, bytes], rel: str | None) -> Any:
    return result


@dataclass(frozen=True)
class Runner:
    """How to do tasks, as module-level functions (they travel to workers by reference).

    - ``run(task, emit, stop)``: do it, in the worker, and return the result;
    - ``warm_up()``: load what tasks need before one arrives (a spare worker);
    - for another machine (Ray): ``prepare_remote(task, scratch)`` points the task's output at a
      scratch folder there, ``written_folder(task, result, scratch)`` names the folder to send
      back, and ``finish_remote(kind, local_payload, result, files, rel)`` stores it here.
    """

    run: Callable[[Task, Callable, Any], Any]
    warm_up: Callable[[], None] = nothing
    prepare_remote: Callable[[Task, str], None] = nothing_to_prepare
    written_folder: Callable[[Task, Any, Path], Path | None] = no_remote_folder
    finish_remote: Callable[[str, dict, Any, dict, str | None], Any] = result_as_is
