"""The registrar: flow files load in a zygote's forked children, never in the caller's process."""

from __future__ import annotations

import hashlib
import os
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from weir.graph.snapshot import snapshot_from_json
from weir.worker.registrar import FileResult, Registrar, shared_registrar

TIMEOUT = 1.0

GOOD = """
import weir

@weir.task
def hello() -> str:
    return "hi"

@weir.flow
def greet():
    return hello()
"""

TWO_FLOWS = """
import weir

@weir.task
def hello() -> str:
    return "hi"

@weir.task
def shout(text: str) -> str:
    return text.upper()

@weir.flow
def greet():
    return hello()

@weir.flow
def greet_loudly():
    return shout(hello())
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def registrar(project: Path) -> Iterator[Registrar]:
    registrar = Registrar(project, timeout=TIMEOUT)
    yield registrar
    registrar.close()


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def load_one(registrar: Registrar, path: Path) -> FileResult:
    """Load one file, checking that the zygote that served it is the one that was running."""
    before = registrar.pid
    [result] = registrar.load([path])
    if before is not None:
        assert registrar.pid == before
    return result


def test_a_file_with_two_flows_gives_two_snapshots_that_read_back(
    registrar: Registrar, project: Path
) -> None:
    path = write(project, "two_flows.py", TWO_FLOWS)
    result = load_one(registrar, path)
    assert result.error is None
    assert result.path == str(path.resolve())
    assert result.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [s["name"] for s in result.snapshots] == ["greet", "greet_loudly"]
    loud = snapshot_from_json(result.snapshots[1])
    assert loud.name == "greet_loudly"
    assert sorted(loud.graph.nodes) == ["hello", "shout"]
    assert loud.code.target == "two_flows.py"  # relative to the project root


def test_a_relative_path_starts_from_the_project_root(registrar: Registrar, project: Path) -> None:
    write(project, "relative.py", GOOD)
    [result] = registrar.load([Path("relative.py")])
    assert result.path == str(project.resolve() / "relative.py")
    assert [s["name"] for s in result.snapshots] == ["greet"]


def test_a_flow_file_in_a_subfolder_imports_modules_from_the_project_root(
    registrar: Registrar, project: Path
) -> None:
    write(project, "shared_helpers_xyz.py", "GREETING = 'hi'\n")
    (project / "flows").mkdir()
    path = write(project / "flows", "uses_helpers.py", "import shared_helpers_xyz\n" + GOOD)
    result = load_one(registrar, path)
    assert result.error is None
    assert snapshot_from_json(result.snapshots[0]).code.target == "flows/uses_helpers.py"


def test_a_file_that_raises_at_import_names_the_exception_and_line(
    registrar: Registrar, project: Path
) -> None:
    path = write(project, "raises.py", 'import weir\n\nraise ValueError("no config here")\n')
    result = load_one(registrar, path)
    assert result.snapshots == []
    assert result.error == f"{path}:3: importing the flow file raised ValueError: no config here"


def test_a_syntax_error_is_reported_as_one(registrar: Registrar, project: Path) -> None:
    path = write(project, "syntax.py", "import weir\n\ndef broken(:\n    pass\n")
    result = load_one(registrar, path)
    assert result.snapshots == []
    assert result.error is not None
    assert "syntax error" in result.error
    assert f"{path}:3" in result.error


def test_sys_exit_at_import_is_the_files_error(registrar: Registrar, project: Path) -> None:
    path = write(project, "sys_exit.py", "import sys\nimport weir\n\nsys.exit(3)\n")
    result = load_one(registrar, path)
    assert result.error == f"{path}:4: importing the flow file raised SystemExit: 3"


def test_os_exit_at_import_reports_the_exit_code(registrar: Registrar, project: Path) -> None:
    path = write(project, "os_exit.py", "import os\nimport weir\n\nos._exit(3)\n")
    result = load_one(registrar, path)
    assert result.error == f"{path}: the flow file ended the process while it was imported (exit code 3)"


def test_a_file_that_kills_its_process_names_the_signal(registrar: Registrar, project: Path) -> None:
    path = write(project, "killed.py", "import os, signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = load_one(registrar, path)
    assert result.error == (
        f"{path}: the flow file ended the process while it was imported (killed by signal SIGKILL)"
    )


@pytest.mark.parametrize("body", ["while True:\n    pass\n", "import time\ntime.sleep(30)\n"])
def test_a_hanging_file_is_stopped_at_the_time_limit_and_the_next_file_still_loads(
    registrar: Registrar, project: Path, body: str
) -> None:
    hanging = write(project, "hangs.py", "import weir\n\n" + body)
    good = write(project, "after_hang.py", GOOD)
    load_one(registrar, good)  # the zygote is running, so its start is not timed
    pid = registrar.pid
    started = time.monotonic()
    stopped, loaded = registrar.load([hanging, good])
    assert time.monotonic() - started < 3.0
    assert stopped.snapshots == []
    assert stopped.error == (
        f"{hanging}: importing the flow file took longer than 1 s (registrar_timeout); it was stopped"
    )
    assert loaded.error is None
    assert [s["name"] for s in loaded.snapshots] == ["greet"]
    assert registrar.pid == pid


def test_a_missing_import_names_the_module(registrar: Registrar, project: Path) -> None:
    path = write(project, "missing_import.py", "import weir\nimport no_such_module_xyz\n")
    result = load_one(registrar, path)
    assert result.error == (
        f"{path}:2: importing the flow file raised ModuleNotFoundError: No module named 'no_such_module_xyz'"
    )


def test_a_flow_whose_body_raises_does_not_hide_the_good_flow(registrar: Registrar, project: Path) -> None:
    source = GOOD + '\n@weir.flow\ndef broken():\n    raise RuntimeError("not today")\n'
    path = write(project, "one_bad_flow.py", source)
    result = load_one(registrar, path)
    assert [s["name"] for s in result.snapshots] == ["greet"]
    assert result.error is not None
    assert result.error.startswith("flow 'broken': ")
    assert "RuntimeError: not today" in result.error


def test_what_a_failing_file_printed_is_in_its_error(registrar: Registrar, project: Path) -> None:
    source = """
        import sys
        for i in range(30):
            print(f"line {i}")
        print("to stderr", file=sys.stderr)
        raise RuntimeError("after printing")
    """
    path = write(project, "prints.py", source)
    result = load_one(registrar, path)
    assert result.error is not None
    message, printed = result.error.split("; it printed: ")
    assert message.endswith("RuntimeError: after printing")
    assert "\n" not in result.error
    assert printed.split(" | ") == [f"line {i}" for i in range(11, 30)] + ["to stderr"]


def test_what_a_file_printed_before_os_exit_is_kept(registrar: Registrar, project: Path) -> None:
    path = write(project, "prints_exit.py", 'import os\nprint("goodbye")\nos._exit(5)\n')
    result = load_one(registrar, path)
    assert result.error is not None
    assert result.error.endswith("(exit code 5); it printed: goodbye")


def test_a_file_that_loads_fine_may_print_without_an_error(registrar: Registrar, project: Path) -> None:
    path = write(project, "prints_ok.py", 'print("hello from import")\n' + GOOD)
    result = load_one(registrar, path)
    assert result.error is None
    assert len(result.snapshots) == 1


def test_the_client_process_never_imports_flow_files(registrar: Registrar, project: Path) -> None:
    marker = project / "pids.txt"
    source = f"""
        import os
        with open({str(marker)!r}, "a") as f:
            f.write(f"{{os.getpid()}}\\n")
    """
    path = write(project, "marker_flows.py", textwrap.dedent(source) + GOOD)
    first, second = registrar.load([path, path])
    assert first.error is None and second.error is None
    pids = [int(line) for line in marker.read_text().split()]
    assert len(pids) == 2  # each load is a fresh child: nothing is cached between them
    assert os.getpid() not in pids
    assert registrar.pid not in pids  # not the zygote either: its children
    loaded = [m for m in sys.modules.values() if getattr(m, "__file__", None) == str(path)]
    assert loaded == []
    assert not [m for m in sys.modules.values() if getattr(m, "__weir_flow_file__", None) == str(path)]


def test_a_subprocess_started_at_import_neither_holds_up_the_answer_nor_outlives_it(
    registrar: Registrar, project: Path
) -> None:
    marker = project / "sleeper.txt"
    source = f"""
        import subprocess
        child = subprocess.Popen(["sleep", "60"])  # inherits stdout: the output pipe stays open
        with open({str(marker)!r}, "w") as f:
            f.write(str(child.pid))
    """
    path = write(project, "starts_subprocess.py", textwrap.dedent(source) + GOOD)
    started = time.monotonic()
    result = load_one(registrar, path)
    assert time.monotonic() - started < 2.0
    assert result.error is None
    sleeper = int(marker.read_text())
    deadline = time.monotonic() + 2.0
    while _alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(sleeper)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie awaiting its reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_unreadable_file_is_reported_without_starting_the_zygote(tmp_path: Path) -> None:
    registrar = Registrar(tmp_path, timeout=TIMEOUT)
    [result] = registrar.load([tmp_path / "nowhere.py"])
    assert result == FileResult(
        path=str(tmp_path.resolve() / "nowhere.py"),
        digest="",
        snapshots=[],
        error=f"{tmp_path.resolve() / 'nowhere.py'}: no such file",
    )
    assert registrar.pid is None


def test_the_zygote_survives_every_bad_file_and_close_stops_it(tmp_path: Path) -> None:
    bad = {
        "raises.py": "raise ValueError('x')\n",
        "exits.py": "import sys\nsys.exit(1)\n",
        "os_exits.py": "import os\nos._exit(9)\n",
        "hangs.py": "while True:\n    pass\n",
        "segfaults.py": "import ctypes\nctypes.string_at(0)\n",
        "good.py": GOOD,
    }
    paths = [write(tmp_path, name, source) for name, source in bad.items()]
    registrar = Registrar(tmp_path, timeout=TIMEOUT)
    registrar.load([paths[-1]])
    pid = registrar.pid
    assert pid is not None
    results = registrar.load(paths)
    assert registrar.pid == pid
    assert [r.error is None for r in results] == [False] * 5 + [True]
    assert results[4].error is not None and "killed by signal SIGSEGV" in results[4].error
    registrar.close()
    assert registrar.pid is None
    assert not _alive(pid)


def test_a_zygote_that_died_is_restarted_and_the_file_loaded(tmp_path: Path) -> None:
    path = write(tmp_path, "good.py", GOOD)
    registrar = Registrar(tmp_path, timeout=TIMEOUT)
    try:
        registrar.load([path])
        first = registrar.pid
        assert first is not None
        os.kill(first, 9)
        [result] = registrar.load([path])
        assert result.error is None
        assert [s["name"] for s in result.snapshots] == ["greet"]
        assert registrar.pid not in (None, first)
    finally:
        registrar.close()


def test_a_zygote_killed_while_a_file_hangs_takes_the_file_with_it(tmp_path: Path) -> None:
    marker = tmp_path / "hanging_pid.txt"
    source = f"""
        import os, time
        if not os.path.exists({str(marker)!r}):  # hangs the first time only
            with open({str(marker)!r}, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(60)
    """
    path = write(tmp_path, "hangs_once.py", textwrap.dedent(source) + GOOD)
    registrar = Registrar(tmp_path, timeout=20.0)
    results: list[FileResult] = []
    loading = threading.Thread(target=lambda: results.extend(registrar.load([path])))
    try:
        loading.start()
        deadline = time.monotonic() + 5.0
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        hanging = int(marker.read_text())
        zygote = registrar.pid
        assert zygote is not None
        os.kill(zygote, 9)
        loading.join(timeout=5.0)
        assert not loading.is_alive()
        [result] = results  # the request was retried in a new zygote, where the file loads
        assert result.error is None
        assert registrar.pid not in (None, zygote)
        deadline = time.monotonic() + 2.0
        while _alive(hanging) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(hanging)
    finally:
        registrar.close()


def test_threads_can_share_a_registrar(registrar: Registrar, project: Path) -> None:
    paths = [write(project, f"threaded_{i}.py", GOOD.replace("greet", f"greet_{i}")) for i in range(4)]
    names: dict[int, list[str]] = {}

    def load(i: int) -> None:
        [result] = registrar.load([paths[i]])
        names[i] = [s["name"] for s in result.snapshots]

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert names == {i: [f"greet_{i}"] for i in range(4)}


def test_shared_registrar_is_one_per_project_root_and_timeout(tmp_path: Path) -> None:
    first = shared_registrar(tmp_path, 5.0)
    assert shared_registrar(tmp_path / ".", 5.0) is first
    assert shared_registrar(tmp_path, 6.0) is not first
    assert first.project_root == tmp_path.resolve()
    assert first.timeout == 5.0
    assert first.pid is None  # started on first use only
