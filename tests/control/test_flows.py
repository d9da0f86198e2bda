"""``weir.control.flows``: registering what the registrar read, keeping a project's files in step,
resolving a flow by name or ``FILE.py:FLOW``, pausing, and reading stored versions back."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import weir
from weir.control import flows as actions
from weir.control.context import Context
from weir.errors import FlowLoadError, NotFoundError, SnapshotError
from weir.graph.snapshot import CodeKind, CodeRef, snapshot_to_json
from weir.sdk.snapshot import snapshot_of
from weir.store import flows
from weir.store.tables import FlowRow
from weir.testing import FakeClock
from weir.worker.registrar import FileResult

from .conftest import NOW, audit_rows


@weir.task
def step() -> int:
    return 1


@weir.flow
def alpha() -> int:
    return step()


@weir.flow(name="dup", description="the one in a.py")
def dup_a() -> int:
    return step()


@weir.flow(name="dup", description="the one in b.py")
def dup_b() -> int:
    return step()


@weir.flow(schedule="@daily", paused=True)
def nightly() -> int:
    return step()


@weir.flow(name="nightly", schedule="@hourly", paused=True)
def nightly_again() -> int:
    return step()


@weir.flow(schedule="@daily")
def daily() -> int:
    return step()


@weir.flow(schedule="@daily", catchup=True)
def eager() -> int:
    return step()


def loaded(path: str, *defined: Any, error: str | None = None) -> FileResult:
    """What the registrar gives for a file at ``path`` defining the flows ``defined``."""
    snapshots = [
        snapshot_to_json(snapshot_of(f, code=CodeRef(kind=CodeKind.FILE, target=path.lstrip("/"))))
        for f in defined
    ]
    return FileResult(path=path, digest=f"digest-of-{path}", snapshots=snapshots, error=error)


def files(ctx: Context) -> dict[str, tuple[list[str], str | None]]:
    """``{path: (flows, error)}`` of the recorded flow files."""
    with ctx.store.read() as conn:
        return {f.path: (f.flows, f.error) for f in flows.files(conn)}


HELLO = """
import weir


@weir.task
def say() -> str:
    return "hi"


@weir.flow
def hello() -> str:
    return say()
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- register -------------------------------------------------------------------------------------


def test_register_stores_a_new_version_only_when_a_snapshot_changes(ctx: Context, audited) -> None:
    first, row = audited(lambda: actions.register(ctx, [loaded("/p/a.py", alpha, nightly)]))
    again = actions.register(ctx, [loaded("/p/a.py", alpha, nightly)])
    changed = actions.register(ctx, [loaded("/p/a.py", alpha, nightly_again)])

    version = snapshot_to_json(snapshot_of(alpha, code=CodeRef(kind=CodeKind.FILE, target="p/a.py")))[
        "version"
    ]
    assert first.flows == ["alpha", "nightly"] and f"alpha@{version}" in first.new_versions
    assert again.new_versions == [] and again.flows == ["alpha", "nightly"]
    assert [v.split("@")[0] for v in changed.new_versions] == ["nightly"]
    assert files(ctx) == {"/p/a.py": (["alpha", "nightly"], None)}
    assert (row.actor, row.action, row.target) == ("ada", "register", "flows")
    assert row.detail == {"files": ["/p/a.py"], "flows": ["alpha", "nightly"]}


IGNORED = "flow 'dup' is also defined in /p/a.py, which registered it first; this definition is ignored"


def problems(ctx: Context) -> dict[str, str]:
    with ctx.store.read() as conn:
        return {f.path: f.error or "" for f in actions.file_problems(conn)}


def test_a_flow_in_two_files_read_together_is_kept_from_the_first_path_and_both_files_say_so(
    ctx: Context,
) -> None:
    out = actions.register(ctx, [loaded("/p/b.py", dup_b), loaded("/p/a.py", dup_a)])

    assert files(ctx)["/p/a.py"] == (["dup"], None)
    assert files(ctx)["/p/b.py"][0] == []
    assert out.errors == {"/p/b.py": IGNORED + " (rename one of them)"}
    assert problems(ctx) == {
        "/p/a.py": "flow 'dup' is also defined in /p/b.py; that definition is ignored (rename one of them)",
        "/p/b.py": IGNORED + " (rename one of them)",
    }
    with ctx.store.read() as conn:
        assert actions.get_snapshot(conn, "dup").description == "the one in a.py"


def test_the_file_registered_first_keeps_its_flow_whatever_the_paths(ctx: Context, clock: FakeClock) -> None:
    actions.register(ctx, [loaded("/p/b.py", dup_b)])
    clock.advance(1)
    out = actions.register(ctx, [loaded("/p/a.py", dup_a)])

    note = "flow 'dup' is also defined in /p/b.py, which registered it first; this definition is ignored"
    assert out.errors == {"/p/a.py": note + " (rename one of them)"} and out.new_versions == []
    assert set(problems(ctx)) == {"/p/a.py", "/p/b.py"}
    with ctx.store.read() as conn:
        assert actions.get_snapshot(conn, "dup").description == "the one in b.py"
        assert flows.get_state(conn, "dup").path == "/p/b.py"


def test_removing_the_duplicate_clears_both_errors_and_the_first_file_keeps_its_flow(ctx: Context) -> None:
    actions.register(ctx, [loaded("/p/a.py", dup_a)])
    actions.register(ctx, [loaded("/p/b.py", dup_b)])

    out = actions.register(ctx, [], gone=["/p/b.py"])

    assert out.reread == [] and problems(ctx) == {}
    assert files(ctx) == {"/p/a.py": (["dup"], None)}


def test_when_the_holding_file_goes_the_duplicate_is_read_again_to_take_the_flow_over(
    ctx: Context, clock: FakeClock
) -> None:
    actions.register(ctx, [loaded("/p/a.py", dup_a)])
    clock.advance(seconds=1)  # versions are ordered by when they were stored: no ties
    actions.register(ctx, [loaded("/p/b.py", dup_b)])

    clock.advance(seconds=1)
    out = actions.register(ctx, [], gone=["/p/a.py"])
    assert out.reread == ["/p/b.py"]
    clock.advance(seconds=1)
    again = actions.register(ctx, [loaded("/p/b.py", dup_b)])

    assert again.errors == {} and files(ctx) == {"/p/b.py": (["dup"], None)}
    with ctx.store.read() as conn:
        assert actions.get_snapshot(conn, "dup").description == "the one in b.py"


def test_paused_applies_when_a_flow_is_first_registered_only(ctx: Context) -> None:
    actions.register(ctx, [loaded("/p/a.py", nightly)])
    with ctx.store.read() as conn:
        assert flows.get_state(conn, "nightly").paused is True

    actions.set_paused(ctx, "nightly", False)
    actions.register(ctx, [loaded("/p/a.py", nightly_again)])  # a new version, still paused=True

    with ctx.store.read() as conn:
        state = flows.get_state(conn, "nightly")
        assert state.paused is False
        assert state.schedule == snapshot_of(nightly_again).schedule


def test_a_file_error_is_recorded_and_gone_files_are_forgotten(ctx: Context) -> None:
    actions.register(ctx, [loaded("/p/a.py", alpha), loaded("/p/bad.py", error="SyntaxError: no")])
    assert files(ctx)["/p/bad.py"] == ([], "SyntaxError: no")

    out = actions.register(ctx, [], gone=["/p/a.py", "/p/bad.py"])

    assert out.gone == ["/p/a.py", "/p/bad.py"] and files(ctx) == {}
    with ctx.store.read() as conn:
        assert flows.get_version(conn, "alpha").name == "alpha"  # its versions stay, for its runs


# -- sync, through the registrar -------------------------------------------------------------------------


def test_sync_registers_new_and_edited_files_forgets_deleted_ones_and_is_none_when_nothing_changed(
    ctx: Context, clock: FakeClock, project: Path, registrar: Any
) -> None:
    path = write(project / "flows" / "hello.py", HELLO)

    first = actions.sync(ctx, registrar)
    assert first is not None and first.files == [str(path)] and first.flows == ["hello"]
    assert actions.sync(ctx, registrar) is None

    write(path, HELLO.replace("def hello()", "def hello(times: int = 1)"))
    clock.advance(1)
    edited = actions.sync(ctx, registrar)
    assert edited is not None and edited.files == [str(path)] and len(edited.new_versions) == 1
    with ctx.store.read() as conn:
        assert [p.name for p in actions.get_snapshot(conn, "hello").params] == ["times"]

    path.unlink()
    deleted = actions.sync(ctx, registrar)
    assert deleted is not None and deleted.gone == [str(path)] and deleted.files == []
    assert files(ctx) == {}


def test_sync_records_a_file_that_does_not_load_with_its_error(
    ctx: Context, project: Path, registrar: Any
) -> None:
    path = write(project / "flows" / "broken.py", "import weir\nraise RuntimeError('not today')\n")

    out = actions.sync(ctx, registrar)

    assert out is not None and "not today" in out.errors[str(path)]
    assert "not today" in (files(ctx)[str(path)][1] or "")


# -- resolve --------------------------------------------------------------------------------------


def test_resolve_finds_a_flow_by_name_after_bringing_the_project_in_step(
    ctx: Context, project: Path, registrar: Any
) -> None:
    write(project / "flows" / "hello.py", HELLO)

    snapshot = actions.resolve(ctx, "hello", registrar)

    assert snapshot.name == "hello" and snapshot.code == CodeRef(kind=CodeKind.FILE, target="flows/hello.py")


def test_resolve_of_a_project_file_records_it_as_a_project_file(
    ctx: Context, project: Path, registrar: Any
) -> None:
    path = write(project / "flows" / "hello.py", HELLO)

    snapshot = actions.resolve(ctx, f"{path}:hello", registrar)

    assert snapshot.name == "hello"
    assert files(ctx) == {str(path): (["hello"], None)}


def test_resolve_of_a_file_outside_the_project_stores_it_but_not_as_a_project_file(
    ctx: Context, tmp_path: Path, registrar: Any
) -> None:
    path = write(tmp_path / "elsewhere" / "side.py", HELLO.replace("def hello", "def side"))

    snapshot = actions.resolve(ctx, f"{path}:side", registrar)

    assert snapshot.code == CodeRef(kind=CodeKind.FILE, target=str(path))
    assert files(ctx) == {}
    with ctx.store.read() as conn:
        assert actions.get_snapshot(conn, "side").version == snapshot.version
    assert audit_rows(ctx)[-1].target == f"file {path}"


def test_resolve_errors_name_what_there_is(ctx: Context, project: Path, registrar: Any) -> None:
    path = write(project / "flows" / "hello.py", HELLO)
    two = write(project / "flows" / "two.py", HELLO + HELLO.replace("hello", "other").replace("say", "shout"))

    with pytest.raises(NotFoundError, match=r"no flow named 'nope' in the project \(found: hello, other\)"):
        actions.resolve(ctx, "nope", registrar)
    with pytest.raises(FlowLoadError, match=r"has no flow named 'nope' \(it has: hello\)"):
        actions.resolve(ctx, f"{path}:nope", registrar)
    with pytest.raises(FlowLoadError, match=r"defines 2 flows \(hello, other\): name one as"):
        actions.resolve(ctx, str(two), registrar)
    with pytest.raises(FlowLoadError, match="no such file"):
        actions.resolve(ctx, f"{project / 'flows' / 'missing.py'}:hello", registrar)


# -- pause and unpause ------------------------------------------------------------------------------


def test_unpausing_a_flow_without_catchup_starts_its_schedule_from_now(
    ctx: Context, clock: FakeClock, audited
) -> None:
    actions.register(ctx, [loaded("/p/a.py", daily, eager)])
    long_ago = NOW - timedelta(days=30)
    with ctx.store.transaction() as tx:
        for name in ("daily", "eager"):
            flows.set_fire(tx, name, last_fire=long_ago, next_fire=None)
    for name in ("daily", "eager"):
        actions.set_paused(ctx, name, True)
    clock.advance(hours=1)

    done, row = audited(lambda: actions.set_paused(ctx, "daily", False))
    kept = actions.set_paused(ctx, "eager", False)

    assert done == actions.Paused(name="daily", paused=False, was_paused=True, catchup=False)
    assert kept.catchup is True
    with ctx.store.read() as conn:
        assert flows.get_state(conn, "daily").last_fire == clock.now()
        assert flows.get_state(conn, "eager").last_fire == long_ago  # catchup: the missed runs come
    assert (row.action, row.target) == ("unpause", "flow daily")


def test_pausing_a_flow_known_only_by_its_snapshot_records_its_state(ctx: Context) -> None:
    actions.register_snapshot(ctx, snapshot_of(daily))

    done = actions.set_paused(ctx, "daily", True)

    assert (done.paused, done.was_paused) == (True, False)
    with ctx.store.read() as conn:
        assert flows.get_state(conn, "daily").paused is True
        assert actions.is_paused(conn, snapshot_of(daily)) is True
    with pytest.raises(NotFoundError):
        actions.set_paused(ctx, "nobody", True)


# -- stored versions ---------------------------------------------------------------------------------


def test_a_version_stored_before_snapshots_cannot_be_read_and_says_to_register_again(ctx: Context) -> None:
    with ctx.store.transaction() as tx:
        tx.execute(
            FlowRow.__table__.insert().values(
                name="ancient",
                version="0ld",
                path="flows/ancient.py",
                graph={},
                snapshot=None,
                created_at=NOW,
            )
        )

    with ctx.store.read() as conn, pytest.raises(SnapshotError, match="register it again") as caught:
        actions.get_snapshot(conn, "ancient")
    assert "'ancient' version 0ld was stored by an older weir" in str(caught.value)
