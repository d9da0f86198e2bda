"""The web UI pages: each renders, shows states, escapes what users wrote, and loads nothing from outside."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any


def _no_outside_urls(html: str) -> None:
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "a page loads something from outside"


def test_the_flows_page_lists_flows_with_their_recent_runs(client: Any, run_flow: Callable[..., Any]) -> None:
    ok = run_flow("numbers", n=1)
    bad = run_flow("numbers", fail=True)
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert 'href="/flows/numbers"' in html and 'href="/flows/hello"' not in html
    assert f'class="sq s-success" href="/runs/{ok.id}"' in html
    assert f'class="sq s-failed" href="/runs/{bad.id}"' in html
    _no_outside_urls(html)


def test_the_flow_page_draws_the_graph_grid_source_and_trigger_form(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run_flow("numbers", n=2)
    bad = run_flow("numbers", n=3, fail=True)
    html = client.get("/flows/numbers").text
    assert '<svg class="graph"' in html
    assert html.count('marker-end="url(#arrow)"') == 3
    assert 'class="node s-failed" data-task="check"' in html
    assert 'class="node s-success" data-task="square"' in html
    assert "\u00d73" in html  # the mapped node's element count
    assert 'id="grid"' in html and html.count('title="check in run') == 2
    assert "@weir.flow" in html  # the source
    assert 'id="trigger"' in html and 'name="n"' in html and 'value="3"' in html
    assert f"/runs/{bad.id}" in html
    _no_outside_urls(html)
    older = client.get("/flows/numbers", params={"run": bad.id - 1}).text
    assert 'class="node s-success" data-task="check"' in older


def test_the_flow_page_refuses_a_run_of_another_flow(client: Any, run_flow: Callable[..., Any]) -> None:
    run_flow("numbers", n=1)
    other = run_flow("hello")
    assert client.get("/flows/numbers", params={"run": other.id}).status_code == 404


def test_the_run_page_shows_tasks_gantt_params_and_actions(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("numbers", n=2, fail=True, label="<img src=x onerror=alert(1)>")
    html = client.get(f"/runs/{run.id}").text
    assert 'data-active="0"' in html
    assert '<svg class="gantt"' in html and html.count('class="bar s-') == 5
    assert f'data-post="/api/v1/runs/{run.id}/retry"' in html
    assert f'data-post="/api/v1/runs/{run.id}/clear"' in html
    assert 'data-task="check" data-state="failed"' in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    _no_outside_urls(html)
    live = client.get(f"/runs/{run.id}/live").text
    assert live.startswith('<div id="live"')


def test_an_active_run_page_updates_live_and_offers_cancel(client: Any, run_flow: Callable[..., Any]) -> None:
    run_flow("hello")
    queued = client.post("/api/v1/flows/hello/runs", json={}).json()
    html = client.get(f"/runs/{queued['id']}").text
    assert 'data-active="1"' in html
    assert f'data-post="/api/v1/runs/{queued["id"]}/cancel"' in html


def test_the_task_page_shows_the_log_error_and_traceback_escaped(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run = run_flow("numbers", n=2, fail=True)
    html = client.get(f"/runs/{run.id}/tasks/check").text
    assert 'id="error"' in html and "check failed: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="traceback"' in html and "ValueError" in html
    assert "<script>alert(1)</script>" not in html
    assert "checking" in html
    assert 'data-follow="0"' in html
    total = client.get(f"/runs/{run.id}/tasks/total").text
    assert "total for sum: &lt;b&gt;1&lt;/b&gt;" in total
    mapped = client.get(f"/runs/{run.id}/tasks/square").text
    assert mapped.count('class="sq s-success" href="?map_index=') == 2
    element = client.get(f"/runs/{run.id}/tasks/square", params={"map_index": 1})
    assert element.status_code == 200 and "square[1]" in element.text


def test_the_runs_page_filters(client: Any, run_flow: Callable[..., Any]) -> None:
    run_flow("hello")
    bad = run_flow("numbers", fail=True)
    html = client.get("/runs", params={"state": "failed"}).text
    assert f'href="/runs/{bad.id}"' in html and "1 matching" in html


def test_unknown_pages_are_html_404s(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("hello")
    for path in (
        "/flows/nope",
        "/runs/999",
        f"/runs/{run.id}/tasks/nope",
        f"/runs/{run.id}/tasks/hello_task?try=5",
        "/no/such/page",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
    assert client.get("/runs/abc").status_code == 422


def test_static_files_are_served(client: Any) -> None:
    assert client.get("/static/weir.css").status_code == 200
    assert "EventSource" in client.get("/static/weir.js").text


def test_the_task_page_links_to_the_whole_log_when_the_try_wrote_one(
    client: Any, run_flow: Callable[..., Any], settings: Any
) -> None:
    from pathlib import Path

    run = run_flow("numbers", n=2)
    download = f'href="/api/v1/runs/{run.id}/tasks/make/tries/1/log/download?map_index=-1"'
    html = client.get(f"/runs/{run.id}/tasks/make").text
    assert download in html and "Download full log" in html and "are not shown" not in html
    silent = client.get(f"/runs/{run.id}/tasks/square", params={"map_index": 0}).text
    assert "Download full log" not in silent  # the element printed nothing
    with (Path(settings.logs) / str(run.id) / "make.try-1.log").open("a") as log:
        log.write(("x" * 99 + "\n") * 3000)  # 300 KB: more than the page shows
    tail = client.get(f"/runs/{run.id}/tasks/make").text
    assert "bytes are not shown." in tail and download in tail


def test_a_scheduled_flow_page_lists_its_next_runs_and_offers_a_backfill_form(project_client: Any) -> None:
    html = project_client.get("/flows/etl").text

    assert 'id="next-runs"' in html and 'id="coming"' in html
    coming = html.split('id="coming"')[1].split("</table>")[0]
    assert coming.count("<tr>") == 6  # the head and 5 runs
    assert '<form id="backfill" data-action="/api/v1/flows/etl/backfill"' in html
    assert 'name="start"' in html and 'name="end"' in html and 'name="rerun_failed"' in html
    assert 'id="backfill-preview"' in html and 'id="backfill-confirm"' in html
    assert 'data-field-error="start"' in html
    _no_outside_urls(html)
    script = project_client.get("/static/weir.js").text
    assert "function bindBackfill" in script and "dry_run: true" in script and "dry_run: false" in script


def test_an_unscheduled_flow_page_says_it_has_no_next_runs_and_offers_no_backfill(
    project_client: Any,
) -> None:
    html = project_client.get("/flows/greet").text

    assert 'id="next-runs"' in html and "has no time schedule" in html
    assert 'id="backfill"' not in html


def _owned_by_a_driver(settings: Any, run_id: int, *, lease_ends_in: float) -> str:
    """Make an owner whose lease ends ``lease_ends_in`` seconds from now (past when negative) the
    driver of ``run_id``; its id. (As in test_server_runs_api.)"""
    from weir.clock import SystemClock
    from weir.scheduler.leases import new_owner
    from weir.store import owners
    from weir.store.store import open_store

    clock = SystemClock()
    owner = new_owner("run", clock)
    now = clock.now()
    with open_store(settings.database_url).transaction() as tx:
        owners.register(tx, owner)
        owners.renew(tx, owner.id, now + timedelta(seconds=lease_ends_in - 30), 30.0)
        assert owners.claim(tx, run_id, owner.id, now) is not None
    return owner.id


def test_the_run_page_offers_resume_only_when_the_runs_driver_is_gone(
    client: Any, run_flow: Callable[..., Any], settings: Any
) -> None:
    done = run_flow("hello")
    orphan = client.post("/api/v1/flows/hello/runs", json={}).json()["id"]
    driven = client.post("/api/v1/flows/hello/runs", json={}).json()["id"]
    waiting = client.post("/api/v1/flows/hello/runs", json={}).json()["id"]
    dead = _owned_by_a_driver(settings, orphan, lease_ends_in=-60)
    _owned_by_a_driver(settings, driven, lease_ends_in=60)

    html = client.get(f"/runs/{orphan}").text

    assert f'data-post="/api/v1/runs/{orphan}/resume"' in html and f"its driver ({dead}) is gone" in html
    for run_id in (driven, waiting, done.id):
        assert 'id="resume"' not in client.get(f"/runs/{run_id}").text, run_id
    assert client.post(f"/api/v1/runs/{orphan}/resume").status_code == 200
    assert 'id="resume"' not in client.get(f"/runs/{orphan}").text


def test_the_problems_page_lists_flow_files_that_did_not_load_and_flows_that_cannot_run(
    project_client: Any,
) -> None:
    html = project_client.get("/problems").text

    assert 'id="problems"' in html
    assert 'data-where="flow report"' in html and '<a href="/flows/report">flow report</a>' in html
    assert "broken.py" in html and "this flow file does not load" in html
    assert "pool &#39;db&#39;" in html
    assert '<a href="/problems" class="here">Problems</a>' in html
    assert '<a href="/problems" >Problems</a>' in project_client.get("/").text  # in the nav of every page


def test_the_problems_page_of_a_store_without_problems_says_so(client: Any) -> None:
    assert 'id="no-problems"' in client.get("/problems").text
