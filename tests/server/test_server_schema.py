"""A property-based run over the OpenAPI schema (schemathesis): no request makes the server fail."""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from weir.server.app import API_PREFIX  # noqa: E402


@pytest.fixture
def api_schema(settings_and_runs: Any) -> Any:
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
    from hypothesis import given
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
