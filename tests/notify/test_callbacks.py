"""Callbacks with the built-in notifiers, end to end: real runs, real local HTTP and SMTP servers."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_servers import HTTPRecorder, SMTPRecorder, free_port

import weir
from weir import notify


def _callback_log(home: Path, run_id: int, name: str) -> str:
    (path,) = (home / "logs" / str(run_id)).glob(name)
    return path.read_text()


def test_a_failed_task_posts_its_error_and_run_id_once(http_server: HTTPRecorder) -> None:
    @weir.task(on_failure=notify.webhook(http_server.url()))
    def load() -> None:
        raise ValueError("the table is empty")

    @weir.flow
    def nightly() -> None:
        load()

    run = nightly.run(executor="inline")

    assert run.state == "failed"
    (body,) = http_server.json_bodies()
    assert body["event"] == "failure" and body["state"] == "failed"
    assert body["flow"] == "nightly" and body["task_id"] == "load"
    assert body["run_id"] == run.id
    assert "ValueError: the table is empty" in body["error"]
    assert body["url"].endswith(f"/runs/{run.id}")
    assert body["log_path"] and Path(body["log_path"]).exists()


def test_on_retry_posts_once_per_retry_and_on_success_once(http_server: HTTPRecorder) -> None:
    hook = notify.webhook(http_server.url())

    @weir.task(retries=2, on_retry=hook, on_success=hook, on_failure=hook)
    def flaky() -> int:
        if weir.context().try_number < 3:
            raise ConnectionError(f"try {weir.context().try_number} lost the connection")
        return 1

    @weir.flow
    def nightly() -> int:
        return flaky()

    run = nightly.run(executor="inline")

    assert run.state == "success"
    events = [(b["event"], b["state"], b["try_number"]) for b in http_server.json_bodies()]
    assert events == [("retry", "up_for_retry", 1), ("retry", "up_for_retry", 2), ("success", "success", 3)]
    assert "try 2 lost the connection" in http_server.json_bodies()[1]["error"]


def test_a_flow_reports_its_failure_with_the_reason(http_server: HTTPRecorder) -> None:
    @weir.task
    def load() -> None:
        raise RuntimeError("boom")

    @weir.flow(
        on_failure=notify.webhook(http_server.url("/flow")), on_success=notify.webhook(http_server.url())
    )
    def nightly() -> None:
        load()

    run = nightly.run(executor="inline")

    assert run.state == "failed"
    (request,) = http_server.requests
    assert request.path == "/flow"
    body = request.json()
    assert (body["event"], body["state"], body["task_id"], body["run_id"]) == (
        "failure",
        "failed",
        None,
        run.id,
    )
    assert body["reason"] == "task(s) failed: load"
    assert body["title"] == f"weir: nightly run failed (run {run.id})"


def test_a_flow_reports_its_success(http_server: HTTPRecorder) -> None:
    @weir.task
    def answer() -> int:
        return 42

    @weir.flow(
        on_failure=notify.webhook(http_server.url("/failed")), on_success=notify.webhook(http_server.url())
    )
    def nightly() -> int:
        return answer()

    run = nightly.run(executor="inline")

    assert run.state == "success" and run.result() == 42
    ((path, body),) = [(r.path, r.json()) for r in http_server.requests]
    assert path == "/hook" and (body["event"], body["state"]) == ("success", "success")


def test_slack_receives_the_title_the_error_and_a_link(http_server: HTTPRecorder) -> None:
    @weir.task(on_failure=notify.slack(http_server.url("/services/T0/B0/XXXX")))
    def load() -> None:
        raise ValueError("the table is empty")

    @weir.flow
    def nightly() -> None:
        load()

    run = nightly.run(executor="inline")

    (body,) = http_server.json_bodies()
    assert set(body) == {"text", "blocks"}
    assert body["text"] == f"weir: nightly task load failed (run {run.id}): ValueError: the table is empty"
    rendered = str(body["blocks"])
    assert "ValueError: the table is empty" in rendered and f"/runs/{run.id}|Open run>" in rendered


def test_an_email_arrives_with_the_title_and_the_error(smtp_server: SMTPRecorder) -> None:
    @weir.task(on_failure=notify.email("oncall@example.com", smtp=smtp_server.address))
    def load() -> None:
        raise ValueError("the table is empty")

    @weir.flow
    def nightly() -> None:
        load()

    run = nightly.run(executor="inline")

    (message,) = smtp_server.messages
    assert message["Subject"] == f"weir: nightly task load failed (run {run.id})"
    assert smtp_server.envelopes == [("weir@localhost", ["oncall@example.com"])]
    body = message.get_payload(decode=True).decode()
    assert "ValueError: the table is empty" in body and "Traceback" in body


def test_a_callback_that_raises_changes_nothing_and_is_logged(
    weir_home: Path, http_server: HTTPRecorder
) -> None:
    def broken(context: object) -> None:
        raise RuntimeError("the pager is on fire")

    @weir.task(on_success=[broken, notify.webhook(http_server.url())])
    def answer() -> int:
        return 42

    @weir.flow(on_success=broken)
    def nightly() -> int:
        return answer()

    run = nightly.run(executor="inline")

    assert run.state == "success" and run.result() == 42
    assert run.task_run("answer").state == "success"
    # the notifier after the broken callback still ran
    assert [b["event"] for b in http_server.json_bodies()] == ["success"]
    log = _callback_log(weir_home, run.id, "answer.try-1.on_success.log")
    assert "raised RuntimeError: the pager is on fire" in log
    assert "webhook(" in log and ": done" in log
    assert "the pager is on fire" in _callback_log(weir_home, run.id, "flow.try-0.on_success.log")


def test_an_unreachable_webhook_is_logged_with_its_reason_and_the_run_is_unaffected(weir_home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"

    @weir.task(on_failure=notify.webhook(url, timeout=2))
    def load() -> None:
        raise ValueError("the table is empty")

    @weir.task(trigger="all_done")
    def cleanup() -> str:
        return "clean"

    @weir.flow
    def nightly() -> None:
        load() >> cleanup()

    run = nightly.run(executor="inline")

    assert run.state == "failed" and run.reason == "task(s) failed: load"
    assert run.task_run("cleanup").state == "success"
    log = _callback_log(weir_home, run.id, "load.try-1.on_failure.log")
    assert f"DeliveryError: webhook {url}: could not deliver (ConnectError" in log


def test_a_notification_that_failed_is_recorded_on_the_run_shown_everywhere_and_counted(
    weir_home: Path,
) -> None:
    from fastapi.testclient import TestClient

    from weir.control import reports
    from weir.server import create_app
    from weir.settings import Settings
    from weir.store.store import open_store

    url = f"http://127.0.0.1:{free_port()}/hook"

    @weir.task(on_failure=notify.webhook(url, timeout=2))
    def load() -> None:
        raise ValueError("the table is empty")

    @weir.flow(on_failure=print)
    def nightly() -> None:
        load()

    run = nightly.run(executor="inline")

    settings = Settings.from_env()
    with open_store(settings.database_url).read() as conn:
        report = reports.run_report(conn, run.id)
    calls = {(c.task_id, c.event): c for c in report.callbacks}
    assert set(calls) == {("load", "failure"), (None, "failure")}
    failed = calls[("load", "failure")]
    assert not failed.ok and failed.try_number == 1
    assert f"webhook {url}: could not deliver" in (failed.error or "")
    assert failed.log_key == f"{run.id}/load.try-1.on_failure.log"
    assert calls[(None, "failure")].ok and calls[(None, "failure")].error is None
    assert [c.task_id for c in report.failed_callbacks] == ["load"]
    with TestClient(create_app(settings)) as client:
        body = client.get(f"/api/v1/runs/{run.id}").json()
        assert [(c["task_id"], c["event"], c["ok"]) for c in body["callbacks"]] == [
            ("load", "failure", False),
            (None, "failure", True),
        ]
        assert "could not deliver" in client.get(f"/runs/{run.id}").text
        assert "weir_callback_failures 1.0" in client.get("/metrics").text
    details = reports.run_details(report)
    assert [c["ok"] for c in details["callbacks"]] == [False, True]


def test_a_non_callable_callback_is_refused_when_the_task_is_defined() -> None:
    with pytest.raises(
        weir.FlowDefinitionError, match="on_failure must be a callable or a list of callables"
    ):

        @weir.task(on_failure="https://example.com/hook")
        def load() -> None: ...

    with pytest.raises(
        weir.FlowDefinitionError, match="on_success must be a callable or a list of callables"
    ):

        @weir.flow(on_success=[notify.webhook("http://example.com/hook"), 42])
        def nightly() -> None: ...


def test_a_misconfigured_notifier_in_a_flow_file_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    from weir.worker.registrar import Registrar

    bad = tmp_path / "flows" / "alerts.py"
    bad.parent.mkdir()
    bad.write_text(
        "import weir\nfrom weir import notify\n\n\n"
        "@weir.task(on_failure=notify.webhook('example.com/hook'))\n"
        "def load() -> None: ...\n"
    )
    registrar = Registrar(tmp_path, timeout=30)
    try:
        (result,) = registrar.load([bad])
    finally:
        registrar.close()
    assert result.error is not None
    assert "flows/alerts.py:5" in result.error and "is not an http" in result.error


def test_a_misconfigured_notifier_fails_when_the_flow_is_defined() -> None:
    with pytest.raises(notify.NotifierError, match=r"'example\.com/hook' is not an http"):

        @weir.task(on_failure=notify.webhook("example.com/hook"))
        def load() -> None: ...


@pytest.fixture
def fresh_pool() -> Iterator[None]:
    """A local pool started after the test set its environment, so its workers inherit it."""
    from weir.runs import shutdown_executors

    shutdown_executors()
    yield
    shutdown_executors()
    sys.modules.pop("flows_for_notify", None)


@pytest.mark.slow
def test_notifiers_run_in_local_worker_processes(
    monkeypatch: pytest.MonkeyPatch, http_server: HTTPRecorder, smtp_server: SMTPRecorder, fresh_pool: None
) -> None:
    monkeypatch.setenv("WEIR_TEST_NOTIFY_URL", http_server.url())
    monkeypatch.setenv("WEIR_TEST_NOTIFY_SMTP", smtp_server.address)
    flows = importlib.import_module("flows_for_notify")

    run = flows.nightly.run(executor="local")

    assert run.state == "failed"
    bodies = http_server.json_bodies()
    # the task's failure callback and the flow's may run at once, in two workers
    assert sorted((b["event"], b["task_id"] or "", b["try_number"]) for b in bodies) == [
        ("failure", "", 0),
        ("failure", "load", 2),
        ("retry", "load", 1),
    ]
    (failed,) = [b for b in bodies if b["event"] == "failure" and b["task_id"]]
    worker_pid = failed["error"].rpartition("worker ")[2].split(")")[0]
    assert worker_pid.isdigit() and int(worker_pid) != os.getpid()
    (message,) = smtp_server.messages
    assert message["Subject"] == f"weir: nightly task load failed (run {run.id})"
