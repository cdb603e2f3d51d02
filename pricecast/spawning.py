"""Starting Python worker processes safely: ``spawn`` (TensorFlow does not survive ``fork``), thread
caps set before TensorFlow loads, and workers that end themselves when their parent is gone.

Used by the dashboard's job workers (:mod:`pricecast.jobs`) and the experiments' trial pool.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_MAIN_SWAP = threading.Lock()


def spawn_context():
    return multiprocessing.get_context("spawn")


def thread_env(threads: int) -> dict[str, str]:
    """Environment that caps TensorFlow (and OpenMP/BLAS) at ``threads`` threads; only effective if
    set before TensorFlow is imported in the process."""
    t = str(max(1, int(threads)))
    return {"TF_NUM_INTRAOP_THREADS": t, "TF_NUM_INTEROP_THREADS": t, "OMP_NUM_THREADS": t,
            "OPENBLAS_NUM_THREADS": t, "MKL_NUM_THREADS": t,
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}  # as pricecast/__init__.py


@contextmanager
def without_main_script() -> Iterator[None]:
    """A spawned child first re-runs the parent's ``__main__`` file (as ``__mp_main__``). Under
    Streamlit that is the page script, and in a script without an ``if __name__ == "__main__"``
    guard it is the whole program. Workers only need pricecast's own functions, so while they are
    started ``__main__`` is a bare module and nothing of the parent's script runs in them."""
    with _MAIN_SWAP:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


def watch_parent(parent_pid: int, may_exit: Callable[[], bool] = lambda: True, every: float = 1.0) -> None:
    """End this process (on a daemon thread) once its parent is gone and ``may_exit()`` says so: a
    killed server or CLI must not leave workers training for nobody."""

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent_pid and may_exit():
                os._exit(0)

    threading.Thread(target=watch, name="pricecast-parent-watch", daemon=True).start()
