"""One base for pricecast's own errors, one way to turn any error into a message."""
from __future__ import annotations

import errno
import importlib
import inspect

import pytest

from pricecast.errors import PricecastError, describe

# Every module that defines an error class (none of them loads Keras at import).
ERROR_MODULES = ("data.candles", "prep.features", "prep.windows", "models.spec", "specs", "spec_io", "training.types",
                 "backtest.spec", "experiments.spec", "data.market.errors", "jobs.executors")


def _error_classes() -> list[type]:
    found = []
    for name in ERROR_MODULES:
        module = importlib.import_module(f"pricecast.{name}")
        found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                  if c.__module__ == module.__name__ and issubclass(c, ValueError | OSError)]
    return found


def test_every_error_pricecast_raises_on_purpose_is_a_pricecast_error():
    classes = _error_classes()
    assert len(classes) >= 12  # the scan found them (CandleError ... JobError, market errors)
    assert [c.__name__ for c in classes if not issubclass(c, PricecastError)] == []


def test_errors_that_are_disk_problems_stay_os_errors():
    from pricecast.data.market.errors import CacheWriteError
    from pricecast.training.types import RunSaveError

    for cls in (RunSaveError, CacheWriteError):
        assert issubclass(cls, OSError) and issubclass(cls, PricecastError)
        assert describe(cls("the disk is full; free some space")) == "the disk is full; free some space"


def test_a_fetch_interrupted_by_ctrl_c_is_not_caught_as_an_error():
    from pricecast.data.market.errors import FetchInterrupted

    assert not issubclass(FetchInterrupted, Exception)  # `except PricecastError` never swallows Ctrl-C


@pytest.mark.parametrize("exc, message", [
    (PricecastError("N=500 is longer than the training part"), "N=500 is longer than the training part"),
    (ValueError("'x' is not a number"), "'x' is not a number"),  # a quote that opens the message stays
    (ValueError("'quoted whole'"), "quoted whole"),
    (KeyError("unknown preset 'nope'"), "unknown preset 'nope'"),  # not str(KeyError): "\"unknown...\""
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/no/data.csv"),
     "No such file or directory: /no/data.csv"),
    (OSError(errno.ENOSPC, "No space left on device", "/home/x/runs"),
     "No space left on device: /home/x/runs; free some disk space or move PRICECAST_HOME to another disk"),
    (FileNotFoundError("/no/run is not a complete run folder"), "/no/run is not a complete run folder"),
    (RuntimeError("division went wrong"), "RuntimeError: division went wrong"),  # a bug: say which kind
    (ValueError(), "ValueError"),
    (KeyError(""), "KeyError"),
])
def test_describe(exc, message):
    assert describe(exc) == message



def _guarded_page(bug: bool, message: str) -> None:
    """A page body run through the dashboard's guard (AppTest runs this function's source)."""
    from pricecast.errors import PricecastError
    from ui.common import guard

    def body() -> None:
        raise ZeroDivisionError(message) if bug else PricecastError(message)

    guard(body)


def _run_guarded(bug: bool, message: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_function(_guarded_page, args=(bug, message), default_timeout=30).run()


def test_the_page_guard_shows_a_pricecast_error_as_it_is_and_logs_nothing(caplog):
    with caplog.at_level("ERROR", logger="pricecast.ui"):
        at = _run_guarded(False, "N=500 is longer than the training part")
    assert not at.exception
    assert [e.value for e in at.error] == ["N\\=500 is longer than the training part"]  # md-escaped
    assert not caplog.records


def test_the_page_guard_logs_a_bug_with_its_traceback_and_says_what_kind(caplog):
    with caplog.at_level("ERROR", logger="pricecast.ui"):
        at = _run_guarded(True, "division by zero")
    assert not at.exception
    assert [e.value for e in at.error] == ["Something went wrong: ZeroDivisionError\\: division by zero"]
    assert [r.exc_info[0] for r in caplog.records] == [ZeroDivisionError]
