"""A project's registered flows over the API and in the UI: every flow (scheduled or not) is listed
and can be triggered; tags filter flows and runs; problems with flow files and flows are listed."""

from __future__ import annotations

from typing import Any


def test_every_registered_flow_is_listed_scheduled_or_not(project_client: Any) -> None:
    body = project_client.get("/api/v1/flows").json()
    by_name = {f["name"]: f for f in body["items"]}

    assert sorted(by_name) == ["etl", "greet", "report"]
    assert by_name["greet"]["schedule"] is None and by_name["greet"]["run_count"] == 0
    assert by_name["etl"]["schedule"] and by_name["etl"]["next_run_at"]
    assert by_name["etl"]["tags"] == ["etl", "nightly"]
    assert by_name["greet"]["tags"] == []


def test_a_flow_that_never_ran_shows_its_params_and_source_and_can_be_triggered(
    project_client: Any,
) -> None:
    detail = project_client.get("/api/v1/flows/greet").json()
    assert [(p["name"], p["default"]) for p in detail["params"]] == [("name", "you")]
    assert "def greet" in detail["source"]
    assert detail["description"] == "Never scheduled, never run: registered all the same."

    response = project_client.post("/api/v1/flows/greet/runs", json={"params": {"name": "Ada"}})

    assert response.status_code == 201
    assert response.json()["state"] == "queued"
    assert response.json()["params"] == {"name": "Ada"}
    page = project_client.get("/flows/greet")
    assert page.status_code == 200 and 'id="trigger"' in page.text and 'name="name"' in page.text


def test_flows_are_filtered_by_tag(project_client: Any) -> None:
    def names(tag: str) -> list[str]:
        return [f["name"] for f in project_client.get("/api/v1/flows", params={"tag": tag}).json()["items"]]

    assert names("nightly") == ["etl"]
    assert names("db") == ["report"]
    assert names("nothing-has-this") == []


def test_runs_are_filtered_by_the_tags_of_their_flows(project_client: Any) -> None:
    etl = project_client.post("/api/v1/flows/etl/runs", json={}).json()["id"]
    greet = project_client.post("/api/v1/flows/greet/runs", json={}).json()["id"]

    tagged = project_client.get("/api/v1/runs", params={"tag": "etl"}).json()
    untagged = project_client.get("/api/v1/runs").json()

    assert [r["id"] for r in tagged["items"]] == [etl] and tagged["total"] == 1
    assert [r["id"] for r in untagged["items"]] == [greet, etl]
    assert project_client.get("/api/v1/runs", params={"tag": "db"}).json()["total"] == 0


def test_the_flows_and_runs_pages_filter_by_tag_and_show_tags(project_client: Any) -> None:
    etl = project_client.post("/api/v1/flows/etl/runs", json={}).json()["id"]
    greet = project_client.post("/api/v1/flows/greet/runs", json={}).json()["id"]

    everything = project_client.get("/").text
    nightly = project_client.get("/", params={"tag": "nightly"}).text
    runs = project_client.get("/runs", params={"tag": "etl"}).text

    assert 'href="/flows/greet"' in everything and 'href="/flows/etl"' in everything
    assert 'class="tag" href="/?tag=nightly"' in everything
    assert 'href="/flows/etl"' in nightly and 'href="/flows/greet"' not in nightly
    assert 'value="nightly"' in nightly  # the filter shows what it filters by
    assert f'href="/runs/{etl}"' in runs and f'href="/runs/{greet}"' not in runs
    assert "1 matching" in runs
    assert 'class="tag" href="/?tag=etl"' in project_client.get("/flows/etl").text


def test_flow_problems_name_the_file_that_did_not_load_and_the_flow_with_a_missing_pool(
    project_client: Any,
) -> None:
    items = project_client.get("/api/v1/flows/errors").json()["items"]

    broken = [p for p in items if p["path"] and p["path"].endswith("broken.py")]
    report = [p for p in items if p["flow_name"] == "report"]
    assert len(items) == 2
    assert len(broken) == 1 and "this flow file does not load" in broken[0]["error"]
    assert broken[0]["flow_name"] is None and broken[0]["at"]
    assert len(report) == 1 and "'db'" in report[0]["error"] and report[0]["path"] is None
    assert report[0]["where"] == "flow report"


def test_the_flows_page_shows_the_problems(project_client: Any) -> None:
    html = project_client.get("/").text

    assert 'id="problems"' in html
    assert "broken.py" in html and "this flow file does not load" in html
    assert "flow report" in html


def test_a_flow_whose_pool_does_not_exist_is_refused_until_the_pool_is_set(project_client: Any) -> None:
    refused = project_client.post("/api/v1/flows/report/runs", json={})
    assert refused.status_code == 422
    assert "'db'" in refused.json()["detail"]

    assert project_client.put("/api/v1/pools/db", json={"slots": 2}).status_code == 200

    assert project_client.post("/api/v1/flows/report/runs", json={}).status_code == 201
    problems = project_client.get("/api/v1/flows/errors").json()["items"]
    assert [p["flow_name"] for p in problems if p["flow_name"]] == []
    assert project_client.get("/api/v1/runs").json()["total"] == 1  # the refusal wrote nothing


def test_a_flows_problems_are_an_empty_list_on_an_empty_store(client: Any) -> None:
    assert client.get("/api/v1/flows/errors").json()["items"] == []


MARKED_FLOWS = """
import os
from pathlib import Path

with open(Path(__file__).with_name("imported-by.txt"), "a") as marker:
    marker.write(f"{os.getpid()}\\n")

import weir


@weir.task
def work(n: int) -> int:
    return n


@weir.flow(schedule=weir.on_event("marked.go"))
def marked(n: int = 1) -> int:
    return work(n)
"""


def test_the_server_never_imports_a_flow_file_whatever_it_is_asked(
    tmp_path: Any, store_url: str, register: Any
) -> None:
    import os

    from fastapi.testclient import TestClient

    from weir.server import create_app
    from weir.settings import Settings

    folder = tmp_path / "marked"
    folder.mkdir()
    (folder / "marked.py").write_text(MARKED_FLOWS)
    settings = Settings.from_env(executor="inline", flows_dirs=(folder,))
    register(settings)  # the registrar imports it, in a process of its own
    marker = folder / "imported-by.txt"
    assert marker.read_text().split() and str(os.getpid()) not in marker.read_text().split()

    with TestClient(create_app(settings)) as client:
        for path in ("/", "/flows/marked", "/api/v1/flows", "/api/v1/flows/marked", "/api/v1/flows/errors"):
            assert client.get(path).status_code == 200, path
        run_id = client.post("/api/v1/flows/marked/runs", json={"params": {"n": 2}}).json()["id"]
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        assert client.post(f"/api/v1/runs/{run_id}/retry").status_code == 200
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        assert client.post(f"/api/v1/runs/{run_id}/clear", json={"task_ids": ["work"]}).status_code == 200
        assert client.get(f"/runs/{run_id}").status_code == 200
        event = {"name": "marked.go", "payload": {"n": 3}}
        assert client.post("/api/v1/events", json=event).status_code == 201
        assert client.post("/api/v1/flows/marked/pause").status_code == 200
        assert client.post("/api/v1/flows/marked/unpause").status_code == 200

    assert str(os.getpid()) not in marker.read_text().split()
