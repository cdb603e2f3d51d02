"""Text a person supplied (file names, cell values, link values, error messages quoting them), made safe
to show as Streamlit markdown; and a job's state in words, said the same on every page. A leaf of the
UI: every page and ui module may import it."""
from __future__ import annotations

import re

from pricecast.errors import describe
from pricecast.jobs.job import JobState


def plain(exc: BaseException) -> str:
    """:func:`pricecast.errors.describe`, markdown-escaped for st.error/st.warning: messages quote
    user text (file names, cell values, link values)."""
    return md(describe(exc))


# Every ASCII punctuation character may be backslash-escaped in CommonMark, and escaping all of
# them also stops Streamlit's own syntax (:red[...], :material/icon:, $math$) and bare-URL links.
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


# GFM turns bare URLs, www. names and e-mail addresses into links after escapes are resolved, so
# a zero-width space goes inside each ("h\u200bttp://", "w\u200bww.", "a@\u200bb.com"): shown the same, never a link.
_AUTOLINK = re.compile(r"(?i)(h)(ttps?)|(w)(ww)|(@)")


def md(text: object) -> str:
    """``text`` (anything a user or a file supplied) escaped for st.markdown, captions, messages
    and widget labels, so it shows as typed: no links, images, emphasis or HTML."""
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
    return _AUTOLINK.sub(lambda m: "\u200b".join(g for g in m.groups() if g) + ("\u200b" if m.group(5) else ""),
                         escaped)


# A job's state in words (after its kind: "Training finished") and its icon: the sidebar and the pages.
JOB_STATES: dict[JobState, tuple[str, str]] = {
    JobState.QUEUED: (":material/hourglass_top:", "queued"),
    JobState.RUNNING: (":material/hourglass_top:", "running"),
    JobState.DONE: (":material/check_circle:", "finished"),
    JobState.STOPPED: (":material/stop_circle:", "stopped (best weights kept)"),
    JobState.ERROR: (":material/error:", "failed"),
}


def state_words(state: JobState) -> str:
    return JOB_STATES[state][1]


def state_icon(state: JobState) -> str:
    return JOB_STATES[state][0]


def queue_text(position: int | None) -> str:
    """A queued job's progress line."""
    return f"Waiting for a free slot — number {position or 1} in the queue"
