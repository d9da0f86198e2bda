"""The web UI pages: each renders, shows states, escapes what users wrote, and loads nothing from outside."""

from __future__ import annotations

import re
from collections.abc import Callable
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
