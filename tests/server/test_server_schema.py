"""The OpenAPI schema: a property-based run over it (schemathesis) finds no request that makes the
server fail, and its descriptions are Markdown, not reST."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from weir.server.app import API_PREFIX, markdown_doc


@pytest.fixture
def api_schema(settings_and_runs: Any) -> Any:
    schemathesis = pytest.importorskip("schemathesis")
    from weir.server import create_app

    app = create_app(settings_and_runs)
    # pause/unpause are answered by 501 on stores without schedule state: documented, and tested
    # in test_server_flows_api.
    return schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", app).exclude(
        path_regex=r".*/(pause|unpause)$"
    )


@pytest.fixture
def settings_and_runs(event_settings: Any, run_flow: Any) -> Any:
    # The flow folder holds listeners, so POST /events reaches its 201, 200 and 422 answers too.
    run_flow("numbers", n=2, fail=True)
    run_flow("hello")
    return event_settings


def test_no_request_makes_the_server_fail(api_schema: Any) -> None:
    # Each operation gets a bounded hypothesis run of its own (schemathesis' pytest plugin does
    # not take the store fixture's sqlite/postgres parameters).
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        check()


def _descriptions(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            else:
                yield from _descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _descriptions(value, f"{where}/{i}")


def test_the_schema_describes_in_markdown_without_rest_markup(client: Any) -> None:
    schema = client.get(f"{API_PREFIX}/openapi.json").json()
    found = list(_descriptions(schema))

    assert len(found) > 100
    for where, text in found:
        assert "``" not in text, (where, text)
        assert ":func:" not in text and ":class:" not in text, (where, text)
        assert "Args:" not in text and "Raises:" not in text, (where, text)
    runs = schema["paths"][f"{API_PREFIX}/runs"]["get"]["description"]
    assert "`offset=<next_offset>`" in runs  # ``offset=<next_offset>`` in the docstring
    detail = schema["paths"][f"{API_PREFIX}/runs/{{run_id}}"]["get"]["description"]
    assert "`note`" in detail
    page = client.get("/api/docs").text  # the reference page shows the same descriptions
    assert "``" not in page and ":func:" not in page and "offset=&lt;next_offset&gt;" in page


def test_docstrings_become_markdown() -> None:
    text = """Show it, as :func:`weir.control.reports.run_report` does (see :class:`~weir.errors.WeirError`).

    Use ``before=<id>``.

    Args:
        run_id: the run.
            More about it.

    Raises:
        NotFoundError: no such run.
            None at all.
        RunStateError: it ended.
    """

    assert markdown_doc(__import__("inspect").cleandoc(text)) == (
        "Show it, as `weir.control.reports.run_report` does (see `WeirError`).\n\n"
        "Use `before=<id>`.\n\n"
        "**Raises**\n\n"
        "- NotFoundError: no such run. None at all.\n"
        "- RunStateError: it ended."
    )
