"""What every notifier shares: its two errors, argument checks, and the message it sends."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from weir.errors import NotifierError
from weir.sdk.context import CallbackContext


def check_url(what: str, url: Any) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else :class:`NotifierError`."""
    if not isinstance(url, str) or not url.strip():
        raise NotifierError(f"{what}: the URL must be a non-empty string, not {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError as exc:
        raise NotifierError(f"{what}: {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifierError(
            f"{what}: {redact(url)!r} is not an http(s) URL; expected for example "
            "'https://example.com/hooks/weir'"
        )
    return url


def check_timeout(what: str, timeout: Any) -> float:
    """``timeout`` as a float of seconds > 0, else :class:`NotifierError`."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise NotifierError(f"{what}: timeout must be a number of seconds > 0, not {timeout!r}")
    return float(timeout)


def redact(url: str, *, keep_path: bool = True) -> str:
    """``url`` without its user info and query (where tokens live), and without its path
    when ``keep_path`` is false (Slack's webhook path is the secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not parts.netloc:
        return url.partition("?")[0]
    if ":" in host:
        host = f"[{host}]"
    path = parts.path if keep_path else ("/…" if parts.path.strip("/") else "")
    return f"{parts.scheme}://{host}{port}{path}"


def first_line(text: str | None) -> str:
    """The first non-empty line of ``text`` ('' for none)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def payload(context: CallbackContext) -> dict[str, Any]:
    """The JSON body a webhook receives for ``context``."""
    return {
        "event": context.event,
        "state": str(context.state),
        "flow": context.flow_name,
        "run_id": context.run_id,
        "task_id": context.task_id,
        "map_index": context.map_index,
        "try_number": context.try_number,
        "error": context.error,
        "reason": context.reason,
        "log_path": context.log_path,
        "url": context.url,
        "title": context.title,
    }
