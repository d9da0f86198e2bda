"""``weir.control.reports``: what the CLI, the API and the UI show, computed once: a run's report
and details, flow summaries, problems with flows, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import weir
from weir.control import flows as flow_actions
from weir.control import reports
from weir.control import runs as run_actions
from weir.control.context import Actor, Context
from weir.control.pools import set_pool
from weir.errors import NotFoundError
from weir.graph.snapshot import CodeKind, CodeRef, snapshot_to_json
from weir.runs import run_flow
from weir.sdk.snapshot import snapshot_of
from weir.settings import Settings
from weir.store import runs
from weir.store.records import TaskRunRecord
from weir.testing import FakeClock
from weir.worker.registrar import FileResult

from .conftest import NOW


@weir.task
def numbers() -> list[int]:
    return [1, 2, 3]


@weir.task
def half(x: int) -> int:
    if x == 3:
        raise ValueError("3 is odd")
    return x // 2


@weir.task
def total(xs: list[int]) -> int:
    return sum(xs)


@weir.flow
def halves() -> int:
    return total(half.map(numbers()))


FLAKY = {"failures_left": 0}


@weir.task(retries=1)
def flaky() -> int:
    if FLAKY["failures_left"]:
        FLAKY["failures_left"] -= 1
        raise ConnectionError("the warehouse hung up")
    return 1


@weir.flow
def once_flaky() -> int:
    return flaky()


@weir.flow(tags=["etl", "nightly"])
def tagged() -> list[int]:
    return numbers()


@weir.flow(schedule="@daily")
def daily() -> list[int]:
    return numbers()


@weir.task(pool="db")
def query() -> int:
    return 1


@weir.flow
def pooled() -> int:
    return query()


def register_files(
    ctx: Context, *defined: object, error: str | None = None, path: str = "/p/flows.py"
) -> None:
    """Register the flows ``defined`` as the project file ``path`` (with its ``error``)."""
    code = CodeRef(kind=CodeKind.FILE, target="flows.py")
    snapshots = [snapshot_to_json(snapshot_of(f, code=code)) for f in defined]
    flow_actions.register(ctx, [FileResult(path=path, digest="d", snapshots=snapshots, error=error)])


# -- runs ---------------------------------------------------------------------------------------------


def test_run_report_lists_task_runs_in_graph_order_with_elements_after_their_node(
    ctx: Context, settings: Settings
) -> None:
    run_id = run_flow(halves, {}, settings=settings).id

    with ctx.store.read() as conn:
        report = reports.run_report(conn, run_id)

    assert [n["task_id"] for n in report.graph["nodes"]] == ["numbers", "half", "total"]
    assert [r.label for r in report.task_runs] == [
        "numbers",
        "half",
        "half[0]",
        "half[1]",
        "half[2]",
        "total",
    ]
    assert [r.label for r in report.nodes] == ["numbers", "half", "total"]
    assert [t.state for t in report.tries_of("half", 2)] == ["failed"]
    assert report.run.state == "failed"


def test_run_report_of_a_run_whose_flow_version_is_unknown_sorts_by_task_id(ctx: Context) -> None:
    with ctx.store.transaction() as tx:
        run_id = runs.create_run(
            tx,
            flow_name="ghost",
            flow_version="v0",
            params={},
            trigger="manual",
            executor="inline",
            now=NOW,
            task_runs=[TaskRunRecord(run_id=0, task_id=t) for t in ("zeta", "alpha")],
        )

    with ctx.store.read() as conn:
        report = reports.run_report(conn, run_id, with_tries=False)
        with pytest.raises(NotFoundError):
            reports.run_report(conn, run_id + 1)

    assert report.graph == {} and report.tries == []
    assert [r.task_id for r in report.task_runs] == ["alpha", "zeta"]


def test_run_details_is_the_run_then_each_task_run_with_its_tries(ctx: Context, settings: Settings) -> None:
    run_id = run_flow(halves, {}, settings=settings).id
    with ctx.store.read() as conn:
        details = reports.run_details(reports.run_report(conn, run_id))

    assert {k: details[k] for k in ("id", "flow_name", "state", "trigger", "params")} == {
        "id": run_id,
        "flow_name": "halves",
        "state": "failed",
        "trigger": "manual",
        "params": {},
    }
    assert set(details) >= {"flow_version", "reason", "owner", "logical_date", "duration", "task_runs"}
    rows = {row["label"]: row for row in details["task_runs"]}
    assert list(rows) == ["numbers", "half", "half[0]", "half[1]", "half[2]", "total"]
    failed = rows["half[2]"]
    assert (failed["state"], failed["map_index"], failed["max_tries"]) == ("failed", 2, 1)
    assert [(t["number"], t["state"]) for t in failed["tries"]] == [(1, "failed")]
    assert failed["error"] == failed["tries"][-1]["error"] and "3 is odd" in failed["error"]
    assert rows["numbers"]["error"] is None and rows["numbers"]["tries"][0]["duration"] >= 0
    assert rows["half"]["map_count"] == 3
    assert rows["total"]["state"] == "upstream_failed" and rows["total"]["tries"] == []


def test_a_task_that_succeeded_on_a_retry_shows_no_error_of_its_own(ctx: Context, settings: Settings) -> None:
    FLAKY["failures_left"] = 1
    run_id = run_flow(once_flaky, {}, settings=settings).id
    with ctx.store.read() as conn:
        details = reports.run_details(reports.run_report(conn, run_id))

    [row] = details["task_runs"]
    assert (details["state"], details["reason"]) == ("success", "its one task succeeded")
    assert row["state"] == "success" and row["error"] is None
    assert [(t["state"], t["error"]) for t in row["tries"]] == [
        ("up_for_retry", "ConnectionError: the warehouse hung up"),
        ("success", None),
    ]


# -- flows --------------------------------------------------------------------------------------------


def test_flow_summaries_give_tags_recent_runs_paused_and_next_run(ctx: Context, clock: FakeClock) -> None:
    register_files(ctx, tagged, daily)
    made = []
    for _ in range(3):
        made.append(run_actions.trigger(ctx, "tagged").run_id)
        clock.advance(60)
    run_actions.cancel(ctx, made[0])

    with ctx.store.read() as conn:
        summaries = {s.name: s for s in reports.flow_summaries(conn, clock.now(), recent=2)}
        only_etl = [s.name for s in reports.flow_summaries(conn, clock.now(), tag="etl")]

    assert list(summaries) == ["daily", "tagged"] and only_etl == ["tagged"]
    first = summaries["tagged"]
    assert (first.tags, first.run_count, first.tasks, first.schedule) == (["etl", "nightly"], 3, 1, None)
    assert [(run_id, state) for run_id, state, _ in first.recent] == [
        (made[2], "queued"),
        (made[1], "queued"),
    ]
    assert first.next_run_at is None and first.paused is False
    other = summaries["daily"]
    assert other.schedule is not None and other.next_run_at == datetime(2024, 6, 4, tzinfo=UTC)

    flow_actions.set_paused(ctx, "daily", True)
    with ctx.store.read() as conn:
        paused = reports.flow_summary(conn, "daily", clock.now())
        with pytest.raises(NotFoundError):
            reports.flow_summary(conn, "nobody", clock.now())
    assert paused.paused is True and paused.next_run_at is None


def test_flow_detail_has_the_snapshot_params_and_the_source(ctx: Context, settings: Settings) -> None:
    source = settings.project_root / "flows.py"
    source.write_text("# the flow's source\n", encoding="utf-8")
    register_files(ctx, tagged)

    with ctx.store.read() as conn:
        detail = reports.flow_detail(conn, "tagged", NOW, settings)

    assert detail.snapshot is not None and detail.snapshot.name == "tagged"
    assert detail.load_error is None and detail.params == []
    assert [n["task_id"] for n in detail.graph["nodes"]] == ["numbers"]
    assert detail.source == "# the flow's source\n"


# -- problems and the audit log ----------------------------------------------------------------------


def test_problems_list_files_that_did_not_load_and_project_flows_naming_missing_pools(ctx: Context) -> None:
    register_files(ctx, pooled)
    register_files(ctx, error="SyntaxError: invalid syntax (broken.py, line 3)", path="/p/broken.py")
    flow_actions.register_snapshot(ctx, snapshot_of(halves))  # not a project flow: not looked at

    with ctx.store.read() as conn:
        found = reports.problems(conn)

    assert [(p.where, p.error) for p in found] == [
        ("/p/broken.py", "SyntaxError: invalid syntax (broken.py, line 3)"),
        (
            "flow pooled",
            "task 'query' uses pool 'db', which does not exist: create it with `weir pools set db SLOTS`",
        ),
    ]
    assert found[0].at == NOW

    set_pool(ctx, "db", 1)
    with ctx.store.read() as conn:
        assert [p.where for p in reports.problems(conn)] == ["/p/broken.py"]


def test_audit_entries_are_newest_first_and_filtered(ctx: Context) -> None:
    set_pool(ctx, "a", 1)
    set_pool(ctx, "b", 1)
    other = Context(store=ctx.store, settings=ctx.settings, actor=Actor(name="bob", via="api"))
    set_pool(other, "c", 1)

    with ctx.store.read() as conn:
        every = reports.audit_entries(conn)
        by_bob = reports.audit_entries(conn, actor="bob")
        on_a = reports.audit_entries(conn, target="pool a")
        older = reports.audit_entries(conn, before=every[0].id, limit=1)

    assert [e.target for e in every] == ["pool c", "pool b", "pool a"]
    assert [(e.actor, e.via) for e in by_bob] == [("bob", "api")]
    assert [e.actor for e in on_a] == ["ada"]
    assert [e.target for e in older] == ["pool b"]
