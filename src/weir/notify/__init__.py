"""Built-in notifiers: callables to pass as ``on_failure``, ``on_retry`` or ``on_success``.

Each factory checks its arguments when called, so a misconfigured notifier fails when the
flow file is loaded (:class:`NotifierError`), not when the first alert is due. A notifier
that cannot deliver raises :class:`DeliveryError`; like any callback error it is written to
the callback's log file (``$WEIR_HOME/logs/<run>/<task>.try-N.on_failure.log``) and never
changes the outcome of the task or the run.

Example::

    import weir
    from weir import notify

    page = notify.webhook("https://ops.example.com/hooks/weir")

    @weir.task(retries=2, on_retry=page, on_failure=[page, notify.email("oncall@example.com")])
    def load() -> None: ...

    @weir.flow(on_failure=notify.slack("https://hooks.slack.com/services/T0/B0/XXXX"))
    def nightly() -> None:
        load()

httpx and smtplib are imported only when a notification is sent.
"""

from __future__ import annotations

from weir.errors import DeliveryError, NotifierError
from weir.notify.mail import EmailNotifier, email
from weir.notify.webhook import SlackNotifier, WebhookNotifier, slack, webhook

__all__ = [
    "DeliveryError",
    "EmailNotifier",
    "NotifierError",
    "SlackNotifier",
    "WebhookNotifier",
    "email",
    "slack",
    "webhook",
]
