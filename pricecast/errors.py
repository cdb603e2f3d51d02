"""The one base of pricecast's own errors and the one way to turn any error into a message.

Every error pricecast raises on purpose (bad input, data that cannot be had, a run that cannot be
saved) is a :class:`PricecastError`, so pages and the command line catch that one class; anything
else is a bug and reaches the page guard (or the CLI's handler), which logs it.
"""
from __future__ import annotations

import errno


class PricecastError(ValueError):
    """A problem a person can act on, with a message that says what to change.

    A ``ValueError`` so callers written before this base existed (``except ValueError``) still
    catch every subclass."""


def describe(exc: BaseException) -> str:
    """The plain message a person can act on.

    Input and disk errors (``ValueError``, ``KeyError``, ``OSError``, every
    :class:`PricecastError`) give their message alone; any other exception (a bug) keeps its class
    name in front, because "division by zero" alone does not say where to look. The class name
    alone when the message says nothing."""
    if isinstance(exc, OSError) and not isinstance(exc, PricecastError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        hint = "; free some disk space or move PRICECAST_HOME to another disk" if exc.errno == errno.ENOSPC else ""
        return f"{exc.strerror}{where}{hint}"
    # str(KeyError("x")) is "'x'": its first argument is the message
    raw = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    text = str(raw).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":  # a repr, not a message ending in a quote
        text = text[1:-1].strip()
    if not text:
        return type(exc).__name__
    if isinstance(exc, (ValueError, KeyError, OSError)):
        return text
    return f"{type(exc).__name__}: {text}"
