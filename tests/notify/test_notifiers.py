"""Notifiers check their arguments when made and deliver to real local servers when called."""

from __future__ import annotations

import pytest
from local_servers import HTTPRecorder, SMTPRecorder, free_port

from weir import notify
from weir.errors import WeirError
from weir.sdk.context import CallbackContext

FAILED = CallbackContext(
    event="failure",
    flow_name="nightly",
    run_id=7,
    state="failed",
    task_id="load",
    try_number=3,
    error="ValueError: the table is empty\nsecond line",
    traceback='Traceback (most recent call last):\n  File "x.py", line 1\nValueError: the table is empty',
    log_path="/tmp/logs/7/load.try-3.log",
    url="http://127.0.0.1:8642/runs/7",
)


def test_a_webhook_posts_the_context_as_json(http_server: HTTPRecorder) -> None:
    notify.webhook(http_server.url("/weir"), headers={"Authorization": "Bearer s3cret"})(FAILED)

    (request,) = http_server.requests
    assert request.path == "/weir"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "event": "failure",
        "state": "failed",
        "flow": "nightly",
        "run_id": 7,
        "task_id": "load",
        "map_index": -1,
        "try_number": 3,
        "error": "ValueError: the table is empty\nsecond line",
        "reason": None,
        "log_path": "/tmp/logs/7/load.try-3.log",
        "url": "http://127.0.0.1:8642/runs/7",
        "title": "weir: nightly task load failed (run 7)",
    }


def test_a_webhook_answered_with_a_5xx_raises_naming_the_target_and_status(
    http_server: HTTPRecorder,
) -> None:
    http_server.status = 503
    with pytest.raises(notify.DeliveryError) as caught:
        notify.webhook(http_server.url("/weir?token=abc"))(FAILED)

    message = str(caught.value)
    assert f"webhook {http_server.url('/weir')}" in message
    assert "503" in message and "the server is having a bad day" in message
    assert "token=abc" not in message


def test_an_unreachable_webhook_raises_naming_the_target_and_reason() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(
        notify.DeliveryError, match=r"webhook http://127\.0\.0\.1:\d+/hook: could not deliver"
    ):
        notify.webhook(url, timeout=2)(FAILED)


def test_a_slack_message_has_the_title_the_error_and_a_link(http_server: HTTPRecorder) -> None:
    notify.slack(http_server.url("/services/T0/B0/XXXX"))(FAILED)

    body = http_server.json_bodies()[0]
    assert body["text"] == "weir: nightly task load failed (run 7): ValueError: the table is empty"
    texts = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert texts == ["*weir: nightly task load failed (run 7)*", "```ValueError: the table is empty```"]
    (link,) = [b for b in body["blocks"] if b["type"] == "context"]
    assert link["elements"][0]["text"] == "<http://127.0.0.1:8642/runs/7|Open run>"


def test_a_slack_delivery_error_hides_the_secret_path(http_server: HTTPRecorder) -> None:
    http_server.status = 404
    notifier = notify.slack(http_server.url("/services/T0/B0/XXXX"))
    with pytest.raises(notify.DeliveryError) as caught:
        notifier(FAILED)
    assert "404" in str(caught.value)
    assert "XXXX" not in str(caught.value) and "XXXX" not in repr(notifier)


def test_an_email_carries_the_title_error_traceback_log_and_link(smtp_server: SMTPRecorder) -> None:
    notify.email(["a@example.com", "b@example.com"], smtp=smtp_server.address, sender="weir@example.com")(
        FAILED
    )

    (message,) = smtp_server.messages
    assert smtp_server.envelopes == [("weir@example.com", ["a@example.com", "b@example.com"])]
    assert message["Subject"] == "weir: nightly task load failed (run 7)"
    assert message["To"] == "a@example.com, b@example.com"
    body = message.get_payload(decode=True).decode()
    assert "Error: ValueError: the table is empty" in body
    assert 'File "x.py", line 1' in body
    assert "Log: /tmp/logs/7/load.try-3.log" in body
    assert "Run: http://127.0.0.1:8642/runs/7" in body


def test_an_email_to_a_closed_port_raises_naming_the_server() -> None:
    port = free_port()
    with pytest.raises(
        notify.DeliveryError, match=rf"email to ops@example.com via 127\.0\.0\.1:{port}: could not"
    ):
        notify.email("ops@example.com", smtp=f"127.0.0.1:{port}", timeout=2)(FAILED)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: notify.webhook("ftp://example.com/x"), "is not an http(s) URL"),
        (lambda: notify.webhook("example.com/hook"), "is not an http(s) URL"),
        (lambda: notify.webhook("http://example.com:http/"), "is not a valid URL"),
        (lambda: notify.webhook(""), "must be a non-empty string"),
        (lambda: notify.webhook("http://x", headers={"X": 1}), "headers must map strings"),
        (lambda: notify.webhook("http://x", timeout=0), "timeout must be a number of seconds > 0"),
        (lambda: notify.slack("hooks.slack.com/services/x"), "is not an http(s) URL"),
        (lambda: notify.email([]), "non-empty list of addresses"),
        (lambda: notify.email("nobody"), "'nobody' is not an email address"),
        (lambda: notify.email("a@b", smtp="localhost:notaport"), "smtp must be 'host:port'"),
        (lambda: notify.email("a@b", smtp="localhost:70000"), "smtp must be 'host:port'"),
        (lambda: notify.email("a@b", smtp=":25"), "smtp must be 'host:port'"),
        (lambda: notify.email("a@b", username="weir"), "both username and password"),
    ],
)
def test_a_bad_argument_is_refused_when_the_notifier_is_made(make: object, message: str) -> None:
    with pytest.raises(notify.NotifierError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        make()  # type: ignore[operator]
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, WeirError)


def test_smtp_accepts_a_bare_host_and_a_bracketed_ipv6_address() -> None:
    assert notify.email("a@b", smtp="mail.example.com").server == "mail.example.com:25"
    assert notify.email("a@b", smtp="[::1]:2525").server == "[::1]:2525"
