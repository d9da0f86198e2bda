"""The UI in a real browser (the system's Chromium, through Playwright) against a real server.

A helper thread plays the scheduler: it drives each queued run to the end, so that runs
triggered from the UI actually run. With WEIR_UPDATE_SCREENSHOTS=1 the screenshots of each
page are saved to docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots are refreshed only on request (WEIR_UPDATE_SCREENSHOTS=1), so a test
# run never changes tracked files; otherwise they go to a temporary folder (still taken: a page
# that cannot render fails the test).
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("WEIR_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "weir-screenshots"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings: Any, store_url: str) -> Iterator[str]:
    """A real uvicorn serving ``create_app(settings)`` on a free port, in a thread."""
    yield from _serve(settings)


@pytest.fixture
def project_server(project_settings: Any) -> Iterator[str]:
    """The same, for the project of ``project_settings`` (``etl`` runs daily)."""
    yield from _serve(project_settings)


def _serve(settings: Any) -> Iterator[str]:
    import uvicorn

    from weir.server import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def scheduler_stand_in(settings: Any, drive: Callable[[int], Any]) -> Iterator[Callable[[], None]]:
    """A function that starts driving every queued run, as the scheduler will.

    Start it after the test's own foreground runs: it must not race them for their runs.
    """
    from weir.store import runs
    from weir.store.store import open_store

    stop = threading.Event()

    def loop() -> None:
        store = open_store(settings.database_url)
        while not stop.is_set():
            with store.read() as conn:
                queued = runs.list_runs(conn, state="queued", limit=10).runs
            for run in queued:
                if run.owner is None:
                    drive(run.id)
            stop.wait(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    yield thread.start
    stop.set()
    if thread.is_alive():
        thread.join(timeout=30)


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith("http://127.0.0.1")
                else (outside.append(route.request.url), route.abort())
            ),
        )
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        yield pg
        browser.close()
        assert outside == [], f"pages loaded files from outside the server: {outside}"
        assert errors == [], f"JavaScript errors: {errors}"


def _shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def test_trigger_watch_fail_read_the_log_and_retry_in_a_browser(
    server: str,
    scheduler_stand_in: Callable[[], None],
    page: Any,
    run_flow: Callable[..., Any],
    flow_file: Path,
) -> None:
    from playwright.sync_api import expect

    run_flow("numbers", n=2)
    run_flow("numbers", n=2, fail=True)
    run_flow("flaky", rows=5)
    scheduler_stand_in()

    # The flows page lists both flows, with their runs as coloured squares.
    page.goto(f"{server}/")
    expect(page.locator("#flows tr[data-flow=numbers] .sq.s-failed")).to_have_count(1)
    expect(page.locator("#flows tr[data-flow=flaky] .sq.s-success")).to_have_count(1)
    _shot(page, "flows.png")

    # Trigger `numbers` with a param from the form, and watch its run page reach success.
    page.click("a[href='/flows/numbers']")
    page.fill("#param-n", "4")
    page.fill("#param-label", "from the browser <b>")
    page.click("#trigger button[type=submit]")
    page.wait_for_url("**/runs/*")
    expect(page.locator("#live")).to_have_attribute("data-state", "success", timeout=20_000)
    expect(page.locator("#tasks tr[data-task=square] .badge.s-success").first).to_be_visible()
    expect(page.locator("svg.graph .node.s-success")).to_have_count(4)
    expect(page.locator("svg.gantt rect.bar")).to_have_count(7)
    expect(page.get_by_text("from the browser <b>")).to_be_visible()  # escaped, shown as text
    _shot(page, "run.png")

    # A wrong param is refused on the form, naming the field.
    page.goto(f"{server}/flows/numbers")
    page.fill("#param-n", "many")
    page.click("#trigger button[type=submit]")
    expect(page.locator("[data-field-error='params.n']")).to_contain_text("integer")

    # `flaky` fails while the warehouse refuses: trigger it, open the failed task's log.
    (flow_file.parent / "FAIL").write_text("")
    page.goto(f"{server}/flows/flaky")
    page.fill("#param-rows", "42")
    page.click("#trigger button[type=submit]")
    page.wait_for_url("**/runs/*")
    run_url = page.url
    expect(page.locator("#live")).to_have_attribute("data-state", "failed", timeout=20_000)
    page.click("#tasks tr[data-task=fragile] a")
    expect(page.locator("#error")).to_contain_text("the warehouse refused 42 rows")
    expect(page.locator("#traceback")).to_contain_text("RuntimeError")
    expect(page.locator("#log .line").first).to_contain_text("loading 42 rows")
    _shot(page, "task.png")

    # Retry once the warehouse accepts: the same run reaches success.
    (flow_file.parent / "FAIL").unlink()
    page.goto(run_url)
    page.click("button[data-post$='/retry']")
    expect(page.locator("#live")).to_have_attribute("data-state", "success", timeout=20_000)
    expect(page.locator("#tasks tr[data-task=fragile] .badge")).to_have_text("success")

    # The flow page's graph and grid show the states of the runs.
    page.goto(f"{server}/flows/flaky")
    expect(page.locator("svg.graph .node[data-task=fragile]")).to_have_attribute("data-state", "success")
    expect(page.locator("#grid tbody tr")).to_have_count(2)
    expect(page.locator("#grid tbody .sq.s-success")).to_have_count(4)
    _shot(page, "flow-flaky.png")
    page.goto(f"{server}/flows/numbers")
    expect(page.locator("#grid tbody .sq.s-failed")).to_have_count(1)
    expect(page.locator("svg.graph .node.s-success")).to_have_count(4)
    _shot(page, "flow.png")
    page.goto(f"{server}/api/docs")
    _shot(page, "api-docs.png", full_page=False)


def test_a_running_tasks_log_tails_live_in_the_browser(
    server: str, page: Any, settings: Any, run_flow: Callable[..., Any]
) -> None:
    """The task page follows a try that is still running (its log grows while the page is open)."""
    from playwright.sync_api import expect

    from weir.store.store import open_store
    from weir.store.tasks import tries_t

    run = run_flow("hello", name="tail")
    log_path = Path(settings.logs) / (run.tries()[0].log_path or "")  # a key in the log store
    store = open_store(settings.database_url)
    with store.transaction() as conn:  # make the try look like it still runs
        running = tries_t.update().where(tries_t.c.run_id == run.id).values(state="running", ended_at=None)
        conn.execute(running)
    page.goto(f"{server}/runs/{run.id}/tasks/hello_task")
    expect(page.locator("#log")).to_have_attribute("data-follow", "1")
    with log_path.open("a") as f:
        f.write("a new line while following\nERROR: something looks wrong\n")
    expect(page.locator("#log")).to_contain_text("a new line while following", timeout=10_000)
    expect(page.locator("#log .line.err")).to_contain_text("something looks wrong")
    with store.transaction() as conn:
        conn.execute(tries_t.update().where(tries_t.c.run_id == run.id).values(state="success"))
    # The page reloads when the try ends, and no longer follows.
    expect(page.locator("#log")).to_have_attribute("data-follow", "0", timeout=10_000)


def test_a_cancel_in_the_browser_is_audited_as_ui_and_pools_and_audit_pages_render(
    server: str, page: Any, settings: Any, run_flow: Callable[..., Any]
) -> None:
    from playwright.sync_api import expect

    from weir.control.context import Context
    from weir.control.pools import set_pool
    from weir.control.runs import trigger

    run_flow("hello")
    ctx = Context.of(settings, via="python")
    queued = trigger(ctx, "hello", {"name": "queued"}).run_id  # nobody drives it
    set_pool(ctx, "warehouse", 2, "the big one")

    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{server}/runs/{queued}")
    page.click(f"button[data-post='/api/v1/runs/{queued}/cancel']")
    expect(page.locator("#live")).to_have_attribute("data-state", "cancelled", timeout=10_000)

    page.goto(f"{server}/audit")
    cancel = page.locator("#audit tr[data-action=cancel]")
    expect(cancel).to_have_count(1)
    expect(cancel).to_contain_text(f"run {queued}")
    expect(cancel.locator("td").nth(2)).to_have_text("ui")
    _shot(page, "audit.png")

    page.goto(f"{server}/pools")
    expect(page.locator("#pools tr[data-pool=warehouse] .free")).to_have_text("2")
    _shot(page, "pools.png")


def test_a_backfill_is_previewed_then_queued_from_the_flow_page(
    project_server: str, page: Any, project_settings: Any
) -> None:
    from playwright.sync_api import expect

    from weir.store import audit, runs
    from weir.store.store import open_store

    store = open_store(project_settings.database_url)
    page.goto(f"{project_server}/flows/etl")
    expect(page.locator("#coming tbody tr")).to_have_count(5)

    page.fill("#backfill-start", "soon")
    page.fill("#backfill-end", "2026-01-03")
    page.click("#backfill-preview")
    expect(page.locator("[data-field-error='start']")).not_to_be_empty()

    page.fill("#backfill-start", "2026-01-01")
    page.click("#backfill-preview")
    expect(page.locator("#backfill-intervals tbody tr[data-action=make]")).to_have_count(3)
    expect(page.locator("#backfill-summary")).to_contain_text("3 to make")
    expect(page.locator("#backfill-confirm")).to_have_text("Queue 3 runs")
    with store.read() as conn:
        assert runs.list_runs(conn).total == 0  # the preview wrote nothing

    page.click("#backfill-confirm")
    expect(page.locator("#flash")).to_contain_text("3 runs of the backfill queued")
    expect(page.locator("#backfill-intervals tbody a")).to_have_count(3)
    expect(page.locator("#backfill-confirm")).to_be_hidden()
    with store.read() as conn:
        made = runs.list_runs(conn, trigger="backfill").runs
        rows = audit.entries(conn, action="backfill")
    assert sorted(r.logical_date.day for r in made if r.logical_date) == [1, 2, 3]
    assert [(r.target, r.via) for r in rows] == [("flow etl", "ui")]
