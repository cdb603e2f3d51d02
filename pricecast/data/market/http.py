"""HTTP plumbing shared by all sources: timeouts, retries with backoff, base-URL overrides.

Settings come from the environment so mirrors, proxies and tests can change them without code:

* ``PRICECAST_BASE_URL_<SOURCE>`` (e.g. ``PRICECAST_BASE_URL_BINANCE=http://127.0.0.1:8123``)
  replaces scheme and host of every URL the source calls, keeping the path.
* ``PRICECAST_HTTP_TIMEOUT`` seconds per request (default 20).
* ``PRICECAST_HTTP_RETRIES`` attempts per request (default 4).
* ``PRICECAST_HTTP_BACKOFF`` first backoff in seconds, doubled per attempt (default 1).
* ``PRICECAST_HTTP_MAX_WAIT`` cap in seconds on any single wait, Retry-After included (default 60).
* ``PRICECAST_HTTP_DEADLINE`` seconds for one whole answer (default 60): the timeout above is per
  read, so a source sending a byte every few seconds would otherwise hold a fetch for ever.
* ``PRICECAST_FETCH_DEADLINE`` seconds for one whole fetch, every page and retry (default 900).

Redirects to another host are refused (a Wi-Fi login page, a hijacked name): candles are only
taken from the host asked.
"""
from __future__ import annotations

import email.utils
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from .errors import MarketDataError, SourceUnavailableError

T = TypeVar("T")

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) pricecast/0.1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524})


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise MarketDataError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, first backoff, cap on any wait, per-request timeout (seconds)."""

    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 20.0
    deadline: float = 60.0  # one whole answer, however it trickles in
    fetch_deadline: float = 900.0  # one whole fetch: every page, retry and wait

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(
            attempts=max(1, int(_env_float("PRICECAST_HTTP_RETRIES", 4))),
            backoff=max(0.0, _env_float("PRICECAST_HTTP_BACKOFF", 1.0)),
            max_wait=max(0.0, _env_float("PRICECAST_HTTP_MAX_WAIT", 60.0)),
            timeout=max(0.01, _env_float("PRICECAST_HTTP_TIMEOUT", 20.0)),
            deadline=max(0.01, _env_float("PRICECAST_HTTP_DEADLINE", 60.0)),
            fetch_deadline=max(0.01, _env_float("PRICECAST_FETCH_DEADLINE", 900.0)),
        )

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: Retry-After when given, else exponential."""
        delay = retry_after if retry_after is not None else self.backoff * (2 ** attempt)
        return max(0.0, min(delay, self.max_wait))


def base_url_override(source: str) -> str | None:
    """``$PRICECAST_BASE_URL_<SOURCE>`` (source upper-cased, non-alphanumerics as ``_``), or None."""
    key = "PRICECAST_BASE_URL_" + re.sub(r"[^A-Z0-9]", "_", source.upper())
    value = os.environ.get(key, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        raise MarketDataError(f"{key}={value!r} must look like http://host:port")
    return value


def rewrite_url(url: str, base: str | None) -> str:
    """Put ``base``'s scheme and host (and any base path prefix) in front of ``url``'s path and query."""
    if not base:
        return url
    b = urlsplit(base)
    u = urlsplit(url)
    path = b.path.rstrip("/") + u.path
    return urlunsplit((b.scheme, b.netloc, path, u.query, u.fragment))


def rewrite_urls(tree: Any, base: str) -> Any:
    """Rewrite every URL string in a nested dict/list (ccxt's ``urls['api']``)."""
    if isinstance(tree, str):
        return rewrite_url(tree, base) if "://" in tree else tree
    if isinstance(tree, dict):
        return {k: rewrite_urls(v, base) for k, v in tree.items()}
    if isinstance(tree, list):
        return [rewrite_urls(v, base) for v in tree]
    return tree


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not headers:
        return None
    value = None
    for key, val in headers.items():
        if str(key).lower() == "retry-after":
            value = str(val).strip()
            break
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _Late(Exception):
    """A call that did not finish in its time."""


def _run_with_deadline(call: Callable[[], T], seconds: float) -> T:
    """``call()`` in a helper thread, given up after ``seconds`` (:class:`_Late`).

    requests' timeout is per read and cannot be made overall; a thread is the portable way to
    stop waiting. The abandoned thread ends at its next read timeout or when the source gives up;
    it is a daemon, so it never keeps the program alive.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="pricecast-fetch", daemon=True).start()
    if not done.wait(seconds):
        raise _Late()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Deadline:
    """The time limits of one fetch: each answer within ``policy.deadline`` seconds, the whole
    fetch (pages, retries, waits) within ``policy.fetch_deadline``. Overruns raise
    :class:`SourceUnavailableError` saying the source is too slow, so the cache may stand in."""

    def __init__(self, source: str, policy: RetryPolicy) -> None:
        self.source = source
        self.policy = policy
        self.ends = time.monotonic() + policy.fetch_deadline

    def _too_slow(self, what: str) -> SourceUnavailableError:
        reason = f"{self.source} is too slow: {what}"
        return SourceUnavailableError(f"{reason} (PRICECAST_HTTP_DEADLINE, PRICECAST_FETCH_DEADLINE)", reason=reason)

    def run(self, call: Callable[[], T]) -> T:
        """``call()`` (one request, body included) within the time left."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise self._too_slow(f"the fetch took over {self.policy.fetch_deadline:g} s")
        budget = min(self.policy.deadline, left)
        try:
            return _run_with_deadline(call, budget)
        except _Late:
            if budget < self.policy.deadline:
                raise self._too_slow(f"the fetch took over {self.policy.fetch_deadline:g} s") from None
            raise self._too_slow(f"no complete answer within {budget:g} s") from None

    def check_wait(self, seconds: float) -> None:
        """Refuse a wait before a retry that would end past the fetch's deadline."""
        if time.monotonic() + seconds > self.ends:
            raise self._too_slow(f"retrying would take the fetch over {self.policy.fetch_deadline:g} s")


class CrossHostRedirect(SourceUnavailableError):
    """The source redirected to another host; refused (the message names that host)."""

    def __init__(self, source: str, host: str) -> None:
        reason = (f"{source} redirected to another host ({host}); refused: a Wi-Fi login page, a proxy, or a "
                  "changed address (set PRICECAST_BASE_URL_<SOURCE> to use another host on purpose)")
        super().__init__(reason, reason=reason)
        self.host = host


def refuse_cross_host_redirects(source: str) -> Callable[..., None]:
    """A requests response hook that raises :class:`CrossHostRedirect` before a redirect to
    another host is followed (for ccxt's session, which follows redirects itself)."""

    def hook(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.is_redirect:
            target = urlsplit(urljoin(resp.url, resp.headers.get("location", "")))
            if target.netloc.lower() != urlsplit(resp.url).netloc.lower():
                raise CrossHostRedirect(source, target.netloc)

    return hook


@dataclass
class HttpResult:
    status: int
    data: Any
    headers: Mapping[str, str]


class HttpClient:
    """A small JSON-over-HTTP client with timeouts, retries and the base-URL override of one source."""

    def __init__(
        self,
        source: str,
        policy: RetryPolicy | None = None,
        progress: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.source = source
        self.policy = policy or RetryPolicy.from_env()
        self.base = base_url_override(source)
        self.progress = progress
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))  # looked up late: tests patch it
        self.deadline = Deadline(source, self.policy)  # a client serves one fetch
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.hooks["response"].append(refuse_cross_host_redirects(source))

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> HttpResult:
        """GET ``url``; retry network errors, timeouts, 429 and 5xx; return status + parsed JSON.

        Other statuses (400, 404, 422...) come back to the caller, which knows how the source
        words its errors. Raises :class:`SourceUnavailableError` when retries run out and
        :class:`SourceUnavailableError` for a body that is not JSON (a web page, a cut-off transfer).
        """
        url = rewrite_url(url, self.base)
        problem = "no attempt made"
        for attempt in range(self.policy.attempts):
            retry_after = None
            try:
                resp = self.deadline.run(lambda: self._get(url, params))
            except requests.Timeout:
                problem = f"{self.source} did not answer within {self.policy.timeout:g} s"
            except requests.ConnectionError:
                problem = NO_NETWORK
            else:
                if resp.status_code not in RETRY_STATUSES:
                    return HttpResult(resp.status_code, self._decode(resp), resp.headers)
                retry_after = retry_after_seconds(resp.headers)
                problem = status_problem(self.source, resp.status_code)
            if attempt + 1 < self.policy.attempts:
                delay = self.policy.wait(attempt, retry_after)
                self.deadline.check_wait(delay)
                if self.progress:
                    self.progress(f"{problem}; retrying in {delay:.1f} s")
                self.sleep(delay)
        where = f"could not reach {self.source}" if problem == NO_NETWORK else f"{self.policy.attempts} attempts"
        raise SourceUnavailableError(f"{problem} ({where})", reason=problem)

    def _get(self, url: str, params: Mapping[str, Any] | None) -> requests.Response:
        """One GET, body read (so the deadline covers a body that trickles in)."""
        resp = self.session.get(url, params=params, timeout=self.policy.timeout)
        resp.content  # noqa: B018 - reads the body here, inside the deadline
        return resp

    def _decode(self, resp: requests.Response) -> Any:
        text = resp.text
        try:
            return json.loads(text)
        except ValueError:
            problem = body_problem(self.source, resp.status_code, text, resp.headers.get("Content-Type", ""))
            raise SourceUnavailableError(problem, reason=problem) from None


NO_NETWORK = "no network"


def status_problem(source: str, status: int) -> str:
    """What a failing HTTP status means, in a few words (no URL, no body)."""
    if status == 429:
        return f"{source} is limiting requests (HTTP 429, too many requests)"
    if status == 503:
        return f"{source} is temporarily unavailable (HTTP 503)"
    if status >= 500:
        return f"{source} had a server error (HTTP {status})"
    return f"{source} refused the request (HTTP {status})"


def body_problem(source: str, status: int, text: str, content_type: str = "") -> str:
    """Why a body that should be JSON is not: a web page (a Wi-Fi login page, a proxy's error
    page) or broken JSON (a cut-off transfer). Short, without the body itself."""
    if "html" in content_type.lower() or text.lstrip()[:1] == "<":
        return f"{source} answered with a web page, not data (HTTP {status}: a Wi-Fi login page or a proxy?)"
    return f"{source} sent a response that is not valid JSON (HTTP {status})"


def call_with_retries(
    call: Callable[[], T],
    *,
    classify: Callable[[BaseException], tuple[bool, float | None, str]],
    policy: RetryPolicy,
    label: str,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    deadline: Deadline | None = None,
) -> T:
    """Run ``call``; on an exception ``classify`` says (retryable, retry_after, short reason).

    The last exception is re-raised when attempts run out or it is not retryable; the caller
    translates it. Used for ccxt, which does its own HTTP but not our retries. With ``deadline``
    each call and the waits between them keep to that fetch's time limits.
    """
    for attempt in range(policy.attempts):
        try:
            return deadline.run(call) if deadline is not None else call()
        except Exception as exc:  # classify decides, the rest is re-raised
            retryable, retry_after, reason = classify(exc)
            if not retryable or attempt + 1 >= policy.attempts:
                raise
            delay = policy.wait(attempt, retry_after)
            if deadline is not None:
                deadline.check_wait(delay)
            if progress:
                progress(f"{label}: {reason}; retrying in {delay:.1f} s")
            (sleep or time.sleep)(delay)
    raise AssertionError("unreachable")  # pragma: no cover

