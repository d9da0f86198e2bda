"""``weir.sdk.snapshot.snapshot_of``: what is taken from a flow's loaded code: where workers find
the code, the params with their types and JSON defaults, tags, description and source line."""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

import weir
from weir.graph.snapshot import CodeKind, CodeRef, ParamSpec, snapshot_to_json
from weir.sdk.loader import load_flow
from weir.sdk.snapshot import code_ref, snapshot_of

FLOW_FILE = '''\
import weir


@weir.task
def step() -> int:
    return 1


@weir.flow(
    tags=["etl", "daily"],
)
def filed() -> int:
    """Loaded from a file."""
    return step()
'''


@pytest.fixture
def filed(tmp_path: Path) -> Any:
    """A flow loaded from ``tmp_path/project/flows/filed.py``."""
    path = tmp_path / "project" / "flows" / "filed.py"
    path.parent.mkdir(parents=True)
    path.write_text(FLOW_FILE, encoding="utf-8")
    return load_flow(f"{path}:filed")


@weir.task
def step() -> int:
    return 1


@weir.flow
def in_module() -> int:
    return step()


# -- where the code is ----------------------------------------------------------------------------------


def test_a_flow_file_inside_the_project_is_named_relative_to_its_root(filed: Any, tmp_path: Path) -> None:
    assert snapshot_of(filed, tmp_path / "project").code == CodeRef(
        kind=CodeKind.FILE, target="flows/filed.py"
    )


def test_a_flow_file_outside_the_project_is_named_by_its_absolute_path(filed: Any, tmp_path: Path) -> None:
    absolute = str((tmp_path / "project" / "flows" / "filed.py").resolve())

    assert snapshot_of(filed, tmp_path / "elsewhere").code == CodeRef(kind=CodeKind.FILE, target=absolute)
    assert snapshot_of(filed).code == CodeRef(kind=CodeKind.FILE, target=absolute)


def test_a_flow_of_an_importable_module_is_named_by_the_module() -> None:
    assert snapshot_of(in_module).code == CodeRef(kind=CodeKind.MODULE, target=__name__)


def test_a_flow_made_in_a_function_can_only_be_pickled() -> None:
    @weir.flow
    def local() -> int:
        return step()

    assert snapshot_of(local).code == CodeRef(kind=CodeKind.PICKLE, target=f"{__name__}:local")


def test_a_given_code_ref_is_kept_and_makes_another_version() -> None:
    given = CodeRef(kind=CodeKind.FILE, target="flows/x.py")

    snapshot = snapshot_of(in_module, code=given)

    assert snapshot.code == given and snapshot.version != snapshot_of(in_module).version
    assert code_ref(in_module, Path("/anywhere")) == CodeRef(kind=CodeKind.MODULE, target=__name__)


# -- params ---------------------------------------------------------------------------------------------


class Unjsonable:
    def __repr__(self) -> str:
        return "Unjsonable()"


@weir.flow
def typed(
    day: date,
    n: int = 3,
    when: date = date(2024, 1, 2),
    at: datetime = datetime(2024, 1, 2, 3, 4),
    ratio: float = 0.5,
    amount: Decimal = Decimal("1.50"),
    names: list[str] | None = None,
    mode: Literal["fast", "slow"] = "fast",
    loose=7,  # a param without a type
) -> int:
    return step()


def test_params_keep_their_order_types_and_whether_they_are_required() -> None:
    params = {p.name: p for p in snapshot_of(typed).params}

    assert list(params) == ["day", "n", "when", "at", "ratio", "amount", "names", "mode", "loose"]
    assert params["day"] == ParamSpec(name="day", type="date", required=True, default=None)
    assert (params["n"].type, params["n"].required, params["n"].default) == ("int", False, 3)
    assert params["names"].type == "list[str] | None"
    assert params["mode"].type == "Literal['fast', 'slow']"
    assert (params["loose"].type, params["loose"].default) == (None, 7)


def test_param_defaults_are_json_a_date_as_an_iso_string() -> None:
    params = {p.name: p.default for p in snapshot_of(typed).params}

    assert params["when"] == "2024-01-02"
    assert params["at"] == "2024-01-02T03:04:00"
    assert params["amount"] == "1.50"
    assert (params["names"], params["mode"], params["ratio"]) == (None, "fast", 0.5)
    json.dumps(snapshot_to_json(snapshot_of(typed)), allow_nan=False)  # the whole snapshot is JSON


def test_the_params_schema_describes_each_param_for_the_stored_checks() -> None:
    snapshot = snapshot_of(typed)
    properties = snapshot.params_schema["properties"]

    assert properties["day"]["format"] == "date" and snapshot.params_schema["required"] == ["day"]
    assert properties["mode"]["enum"] == ["fast", "slow"]
    assert snapshot.validate_params({"day": "2024-05-06", "n": "4"})["n"] == 4


@pytest.mark.filterwarnings("ignore::pydantic.json_schema.PydanticJsonSchemaWarning")
def test_a_default_with_no_json_form_is_kept_as_its_repr() -> None:
    @weir.flow
    def odd(thing: Any = Unjsonable()) -> int:  # noqa: B008 - the point of the test
        return step()

    (param,) = snapshot_of(odd).params
    assert param.default == "Unjsonable()"


# -- everything else ---------------------------------------------------------------------------------


def test_tags_description_and_source_line_are_kept(filed: Any) -> None:
    snapshot = snapshot_of(filed)

    assert snapshot.tags == ("etl", "daily")
    assert snapshot.description == "Loaded from a file."
    assert FLOW_FILE.splitlines()[snapshot.source_line - 1] == "@weir.flow("


def test_an_explicit_description_beats_the_docstring_and_the_code_hash_follows_the_code(
    tmp_path: Path,
) -> None:
    path = tmp_path / "flows.py"
    path.write_text(
        textwrap.dedent(
            '''
            import weir

            @weir.task
            def step() -> int:
                return 1

            @weir.flow(description="In words.")
            def described() -> int:
                """Not this."""
                return step()
            '''
        ),
        encoding="utf-8",
    )
    snapshot = snapshot_of(load_flow(f"{path}:described"))

    assert snapshot.description == "In words."
    assert snapshot.code_hash and snapshot.code_hash != snapshot_of(in_module).code_hash
