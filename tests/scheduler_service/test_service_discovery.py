"""The daemon's flow files: errors are recorded per file, changes are picked up, unchanged files
are not imported again; on_file makes one run per new file."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from scheduler_project import Project, flow_source, utc

import weir
from weir.control.flows import file_problems
from weir.testing import FakeClock

REFRESH = timedelta(seconds=5)  # more than the daemon's refresh period


def file_errors(project: Project) -> dict[str, str]:
    with project.engine.connect() as conn:
        return {Path(f.path).name: f.error or "" for f in file_problems(conn)}


def test_a_file_that_fails_to_import_is_recorded_and_does_not_hide_the_other_files(project: Project) -> None:
    project.write("a_broken.py", "import weir\n\nraise RuntimeError('no config')\n", header=False)
    project.write("b_syntax.py", "def oops(:\n", header=False)
    project.write("c_good.py", flow_source("good", schedule='"0 * * * *"', start="2024-01-01"))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    clock.advance(hours=1)
    assert [c.flow_name for c in scheduler.tick()] == ["good"]
    errors = file_errors(project)
    assert set(errors) == {"a_broken.py", "b_syntax.py"}
    assert "a_broken.py:3" in errors["a_broken.py"] and "RuntimeError: no config" in errors["a_broken.py"]
    assert "syntax error" in errors["b_syntax.py"]


def test_a_bad_flow_is_recorded_with_its_error_and_the_good_flows_still_run(project: Project) -> None:
    project.write("a_bad.py", flow_source("bad", schedule='"61 * * * *"'))
    project.write("b_good.py", flow_source("good", schedule='"0 * * * *"', start="2024-01-01"))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    clock.advance(hours=1)
    scheduler.tick()
    assert set(scheduler.flows) == {"good"}
    assert [r.flow_name for r in project.runs()] == ["good"]
    errors = file_errors(project)
    assert list(errors) == ["a_bad.py"] and "invalid schedule" in errors["a_bad.py"]


def test_an_edited_file_is_read_again_and_a_fixed_file_loses_its_error(project: Project) -> None:
    path = project.write("flows.py", "raise ImportError('half written')\n", header=False)
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    assert scheduler.flows == {} and list(file_errors(project)) == ["flows.py"]
    project.write("flows.py", flow_source("first", schedule='"0 * * * *"', start="2024-01-01"))
    clock.advance(REFRESH)
    scheduler.tick()
    assert set(scheduler.flows) == {"first"} and file_errors(project) == {}
    project.write(
        "flows.py",
        flow_source("first", schedule='"0 * * * *"', start="2024-01-01")
        + flow_source("second", schedule='"30 * * * *"', start="2024-01-01"),
    )
    clock.advance(REFRESH)
    scheduler.tick()
    assert set(scheduler.flows) == {"first", "second"}
    clock.advance(utc(2024, 1, 1, 1, 30) - clock.now())
    scheduler.tick()
    assert [(r.flow_name, r.logical_date) for r in project.runs()] == [
        ("first", utc(2024, 1, 1)),
        ("second", utc(2024, 1, 1, 0, 30)),
    ]
    path.unlink()
    clock.advance(REFRESH)
    scheduler.tick()
    assert scheduler.flows == {}


def test_an_unchanged_file_is_not_imported_again(project: Project, tmp_path: Path) -> None:
    imports = tmp_path / "imports.log"
    side_effect = f"with open({str(imports)!r}, 'a') as log:\n    log.write('x')\n"
    path = project.write("counted.py", side_effect + flow_source("counted", schedule='"0 * * * *"'))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    for _ in range(10):
        scheduler.tick()
        clock.advance(REFRESH)
    assert imports.read_text() == "x"
    stat = path.stat()  # touched, same content: the hash says it is unchanged
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    scheduler.tick()
    assert imports.read_text() == "x"
    project.write("counted.py", side_effect + flow_source("counted", schedule='"30 * * * *"'))
    clock.advance(REFRESH)
    scheduler.tick()
    assert imports.read_text() == "xx"


def test_two_new_files_make_two_runs_once_settled_and_an_unchanged_file_no_more(project: Project) -> None:
    inbox = project.root / "inbox"  # the glob is read from the project root
    inbox.mkdir()
    project.write(
        "ingest.py", flow_source("ingest", params="path: str", schedule='weir.on_file("inbox/*.csv")')
    )
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    assert scheduler.tick() == []
    (inbox / "a.csv").write_text("1\n")
    (inbox / "b.csv").write_text("2\n")
    (inbox / "c.txt").write_text("not matched\n")
    clock.advance(seconds=2)
    assert scheduler.tick() == []  # seen, not yet settled (5 s)
    clock.advance(seconds=5)
    made = scheduler.tick()
    assert [(c.flow_name, c.trigger) for c in made] == [("ingest", "file")] * 2
    runs = project.runs("ingest")
    assert sorted(r.params["path"] for r in runs) == [str((inbox / n).resolve()) for n in ("a.csv", "b.csv")]
    for _ in range(5):
        clock.advance(seconds=2)
        assert scheduler.tick() == []
    restarted = project.scheduler(clock)  # a restart does not make them again either
    for _ in range(4):
        clock.advance(seconds=2)
        assert restarted.tick() == []
    (inbox / "c.csv").write_text("3\n")
    clock.advance(seconds=6)
    restarted.tick()
    clock.advance(seconds=6)
    assert [c.flow_name for c in restarted.tick()] == ["ingest"]
    assert len(project.runs("ingest")) == 3


def test_a_file_written_in_appends_starts_one_run_once_it_has_stopped_changing(project: Project) -> None:
    inbox = project.root / "inbox"
    inbox.mkdir()
    project.write(
        "ingest.py", flow_source("ingest", params="path: str", schedule='weir.on_file("inbox/*.csv")')
    )
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    growing = inbox / "big.csv"
    for part in range(8):  # a writer appending a part every 2 s: never still for 5 s
        with growing.open("a") as file:
            file.write(f"{part}\n")
        clock.advance(seconds=2)
        assert scheduler.tick() == [], f"a run started on a partial file after part {part}"
    clock.advance(seconds=5)
    assert [c.trigger for c in scheduler.tick()] == ["file"]
    clock.advance(seconds=10)
    assert scheduler.tick() == []
    assert len(project.runs("ingest")) == 1


def test_a_rewritten_file_starts_a_run_only_when_its_content_changed(project: Project) -> None:
    inbox = project.root / "inbox"
    inbox.mkdir()
    project.write(
        "ingest.py",
        flow_source("ingest", params="path: str", schedule='weir.on_file("inbox/*.csv", settle=1)'),
    )
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    target = inbox / "daily.csv"

    def write(text: str, mtime: int) -> list[object]:
        target.write_text(text)
        os.utime(target, (mtime, mtime))
        made = []
        for _ in range(3):
            clock.advance(seconds=1)
            made.extend(scheduler.tick())
        return made

    assert len(write("a,b\n", 1_700_000_000)) == 1
    assert write("a,b\n", 1_700_000_100) == []  # touched, same content
    assert len(write("a,b,c\n", 1_700_000_200)) == 1
    assert len(project.runs("ingest")) == 2


def test_a_relative_glob_is_not_read_from_the_flow_files_folder(project: Project) -> None:
    (project.flows_dir / "inbox").mkdir()
    project.write(
        "ingest.py",
        flow_source("ingest", params="path: str", schedule='weir.on_file("inbox/*.csv", settle=0)'),
    )
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    (project.flows_dir / "inbox" / "a.csv").write_text("1\n")
    clock.advance(seconds=2)
    assert scheduler.tick() == []


def test_file_runs_are_driven_to_success_with_the_path_param(project: Project) -> None:
    inbox = project.root / "inbox"
    inbox.mkdir()
    project.write(
        "echo.py",
        "import weir\n\n\n@weir.task\ndef size(path: str) -> int:\n    return len(open(path).read())\n\n\n"
        "@weir.flow(schedule=weir.on_file('inbox/*.csv', settle=0))\n"
        "def echo(path: str) -> int:\n    return size(path)\n",
        header=False,
    )
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    (inbox / "a.csv").write_text("hello\n")
    for _ in range(20):
        scheduler.step()
        runs = project.runs("echo")
        if runs and runs[0].state == "success":
            break
    (run,) = project.runs("echo")
    assert weir.get_run(run.id).result() == 6


def test_a_flow_name_defined_again_in_another_file_stays_with_the_first_and_both_files_say_so(
    project: Project,
) -> None:
    original = project.write("m_orig.py", flow_source("report", schedule='"0 * * * *"', start="2024-01-01"))
    clock = FakeClock(utc(2024, 1, 1))
    scheduler = project.scheduler(clock)
    scheduler.tick()
    assert scheduler.flows["report"].code.target.endswith("m_orig.py")

    # A file that sorts first defines the same name: it does not take the flow over.
    duplicate = project.write("a_dup.py", flow_source("report", schedule='"30 * * * *"', start="2024-01-01"))
    clock.advance(REFRESH)
    scheduler.tick()
    assert scheduler.flows["report"].code.target.endswith("m_orig.py")
    errors = file_errors(project)
    assert set(errors) == {"a_dup.py", "m_orig.py"}
    assert str(original) in errors["a_dup.py"] and "ignored" in errors["a_dup.py"]
    assert str(duplicate) in errors["m_orig.py"]

    duplicate.unlink()  # removing the duplicate clears both errors; the original never stopped
    clock.advance(REFRESH)
    scheduler.tick()
    assert file_errors(project) == {}
    assert scheduler.flows["report"].code.target.endswith("m_orig.py")

    project.write("a_dup.py", flow_source("report", schedule='"30 * * * *"', start="2024-01-01"))
    clock.advance(REFRESH)
    scheduler.tick()
    original.unlink()  # the holder goes: the other definition takes over in the same pass
    clock.advance(REFRESH)
    scheduler.tick()
    assert scheduler.flows["report"].code.target.endswith("a_dup.py")
    assert file_errors(project) == {}
