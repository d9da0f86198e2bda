"""Notifiers that POST JSON over HTTP: a generic webhook and a Slack incoming webhook."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.errors import DeliveryError, NotifierError
from weir.notify.base import (
    check_timeout,
    check_url,
    first_line,
    payload,
    redact,
)
from weir.sdk.context import CallbackContext


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookNotifier:
    """Posts a callback's context as JSON to ``url``; made by :func:`webhook`."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0

    def __call__(self, context: CallbackContext) -> None:
        post(f"webhook {redact(self.url)}", self.url, payload(context), self.headers, self.timeout)

    def __repr__(self) -> str:
        # Shown in logs and stored with the graph: no tokens, no object ids.
        return f"webhook({redact(self.url)!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackNotifier:
    """Posts a callback's summary to a Slack incoming webhook; made by :func:`slack`."""

    webhook_url: str = field(repr=False)
    timeout: float = 10.0

    def __call__(self, context: CallbackContext) -> None:
        target = f"slack webhook {redact(self.webhook_url, keep_path=False)}"
        post(target, self.webhook_url, slack_message(context), {}, self.timeout)

    def __repr__(self) -> str:
        return f"slack({redact(self.webhook_url, keep_path=False)!r})"


def webhook(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> WebhookNotifier:
    """A callback that POSTs what happened as JSON to ``url``.

    The body holds ``event``, ``state``, ``flow``, ``run_id``, ``task_id``, ``map_index``,
    ``try_number``, ``error``, ``reason``, ``log_path``, ``url`` (the run in the web UI)
    and ``title``.

    Args:
        url: an ``http://`` or ``https://`` URL.
        headers: extra request headers, for example ``{"Authorization": "Bearer ..."}``.
        timeout: seconds to wait for the server.

    Raises:
        NotifierError: at once, for a URL that is not http(s), headers that are not
            strings, or a timeout that is not a positive number.

    When called, it raises :class:`~weir.notify.DeliveryError` if the server cannot be
    reached or answers with a status other than 2xx; the callback machinery logs it and
    the run is unaffected.

    Example::

        @weir.task(retries=2, on_failure=notify.webhook("https://ops.example.com/hooks/weir"))
        def load() -> None: ...
    """
    check_url("webhook", url)
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise NotifierError(f"webhook: headers must map strings to strings, not {name!r}: {value!r}")
        checked[name] = value
    return WebhookNotifier(url=url, headers=checked, timeout=check_timeout("webhook", timeout))


def slack(webhook_url: str, *, timeout: float = 10.0) -> SlackNotifier:
    """A callback that posts a summary to a Slack channel through an incoming webhook.

    The message has a ``text`` (the title, for notifications) and ``blocks``: the title,
    the error's first line or the run's reason, and a link to the run in the web UI.

    Args:
        webhook_url: the incoming webhook's URL (``https://hooks.slack.com/services/...``);
            it is a secret, so logs show only its host.
        timeout: seconds to wait for Slack.

    Raises:
        NotifierError: at once, for a URL that is not http(s) or a bad timeout.

    Example::

        @weir.flow(on_failure=notify.slack(os.environ["SLACK_WEBHOOK_URL"]))
        def nightly() -> None: ...
    """
    check_url("slack", webhook_url)
    return SlackNotifier(webhook_url=webhook_url, timeout=check_timeout("slack", timeout))


def slack_message(context: CallbackContext) -> dict[str, Any]:
    """Slack's incoming-webhook body (``text`` and ``blocks``) for ``context``."""
    detail = first_line(context.error) or context.reason or ""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(context.title)}*"}}
    ]
    if detail:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{_escape(detail)}```"}})
    if context.url:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{context.url}|Open run>"}]}
        )
    text = context.title + (f": {detail}" if detail else "")
    return {"text": text, "blocks": blocks}


def _escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post(target: str, url: str, body: dict[str, Any], headers: Mapping[str, str], timeout: float) -> None:
    """POST ``body`` as JSON; raise :class:`DeliveryError` naming ``target`` unless it answers 2xx."""
    import httpx

    try:
        response = httpx.post(url, json=body, headers=dict(headers), timeout=timeout)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise DeliveryError(f"{target}: could not deliver ({type(exc).__name__}: {reason})") from None
    if not response.is_success:
        answer = first_line(response.text)[:200]
        raise DeliveryError(
            f"{target}: the server answered {response.status_code} {response.reason_phrase}"
            + (f": {answer}" if answer else "")
        )
