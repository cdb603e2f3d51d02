"""The worker process's main function: receive a task, run it, send events and the result back,
and wait for the next one (``None`` ends the worker).

Messages to the parent over a ``multiprocessing`` pipe, per task: ``("event", Event)`` any number
of times, then exactly one ``("result", value)`` or ``("error", message)``. A worker that dies
sends neither; its parent turns the exit code into a message (:func:`death_message`).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from typing import Any

from pricecast.errors import describe
from pricecast.spawning import watch_parent

from .task import Runner, Task, apply_env


def death_message(exitcode: int | None) -> str:
    """Why a worker ended without a result, in words."""
    if exitcode is None:
        return "the training process stopped answering and was ended"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = {"SIGKILL": "killed — by the Kill button, or by the system when memory ran out",
               "SIGSEGV": "crashed (segmentation fault)", "SIGTERM": "terminated", "SIGABRT": "aborted"}
        return f"the training process was {why.get(name, f'ended by {name}')}; nothing of this run was saved"
    return f"the training process ended unexpectedly (exit code {exitcode}); nothing of this run was saved"


def main(conn: Any, stop: Any, parent_pid: int, env: dict[str, str], runner: Runner,
         finish_when_orphaned: bool = False) -> None:
    """Entry point of a spawned worker. Loads TensorFlow first (a spare worker does this while it
    waits), then runs the tasks it is given, one after another, until it receives ``None``.
    Orphaned (its parent gone), it ends at once — or, with ``finish_when_orphaned``, after the task
    it is running (an experiment's trial then still records itself, and a resume skips it)."""
    os.environ.update(env)  # thread caps must be in place before TensorFlow loads
    busy = threading.Event()
    watch_parent(parent_pid, may_exit=(lambda: not busy.is_set()) if finish_when_orphaned else (lambda: True))
    try:
        runner.warm_up()
    except Exception:  # noqa: BLE001 - the task itself will fail with the real message
        pass
    lock = threading.Lock()
    parent_gone = threading.Event()

    def send(message: tuple) -> None:
        # Orphaned and finishing its task, the worker has no one to tell: progress is dropped, and
        # the task's own output (a run folder) is what remains.
        if parent_gone.is_set():
            return
        with lock:
            try:
                conn.send(message)
            except (BrokenPipeError, ConnectionResetError, EOFError):
                if not finish_when_orphaned:
                    raise
                parent_gone.set()

    while True:
        try:
            task: Task | None = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:  # no longer wanted
            return
        busy.set()
        try:
            _run_one(runner, task, send, stop)
        finally:
            busy.clear()


def _run_one(runner: Runner, task: Task, send, stop) -> None:
    try:
        apply_env(task.env)
        result = runner.run(task, lambda event: send(("event", event)), stop)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message for the page
        if not isinstance(exc, (ValueError, OSError)):
            traceback.print_exc(file=sys.stderr)  # the server's log keeps the details
        send(("error", describe(exc)))
        return
    try:
        send(("result", result))
    except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
        send(("error", f"the result could not be sent back: {describe(exc)}"))
