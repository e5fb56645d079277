"""The Dagster webserver, started on 127.0.0.1 against the built instance, shows one lineage from the
delivery file to the e-mail, and the materialisations the pipeline recorded."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import BuiltPipeline, pipeline_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSET_NODES = "query { assetNodes { assetKey { path } dependencyKeys { path } } }"
MATERIALIZATIONS = """
query ($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset { assetMaterializations(limit: 20) { partition } }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(built_pipeline: BuiltPipeline) -> Iterator[str]:
    port = _free_port()
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(webserver_bin), "-h", "127.0.0.1", "-p", str(port), "-m", "pipelines.definitions"],
        cwd=PROJECT_ROOT,
        env=pipeline_env(built_pipeline.root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"webserver exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        else:
            pytest.fail("webserver did not answer within 180 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    # The code location loads in the background after the server answers; retry until it is there.
    deadline = time.monotonic() + 120
    while True:
        response = requests.post(
            f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        data = body.get("data") or {}
        if data.get("assetNodes") or data.get("assetOrError") or time.monotonic() > deadline:
            return body
        time.sleep(2)


def test_one_lineage_from_delivery_to_email(webserver: str) -> None:
    body = _graphql(webserver, ASSET_NODES)
    nodes = body["data"]["assetNodes"]
    downstream: dict[str, set[str]] = {}
    for node in nodes:
        key = "/".join(node["assetKey"]["path"])
        for dep in node["dependencyKeys"]:
            downstream.setdefault("/".join(dep["path"]), set()).add(key)

    def path_between(start: str, goal: str) -> list[str] | None:
        queue, seen = deque([[start]]), {start}
        while queue:
            path = queue.popleft()
            if path[-1] == goal:
                return path
            for nxt in sorted(downstream.get(path[-1], ())):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append([*path, nxt])
        return None

    # One lineage: file on record -> validated rows -> each dbt layer -> report -> e-mail.
    chain = [
        "raw/deliveries",
        "raw/responses",
        "staging/stg_ssm__responses",
        "intermediate/int_respondents_assigned_to_cohorts",
        "marts/metric_summary",
        "report/yearly_report",
        "report/report_email",
    ]
    for upstream, downstream_key in itertools.pairwise(chain):
        assert path_between(upstream, downstream_key) is not None, (upstream, downstream_key)
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    for mart in (
        "response_funnel", "cohort_mentors", "cohort_non_mentors", "metric_summary", "cohort_comparisons",
        "demographic_balance", "demographics_by_cohort", "nonparticipation_reasons", "metric_trends",
        "metric_trend_tests", "item_distributions", "data_quality_issues",
    ):  # fmt: skip
        assert f"marts/{mart}" in keys


def test_ui_shows_the_materialisations_of_the_build(webserver: str) -> None:
    body = _graphql(webserver, MATERIALIZATIONS, {"path": ["report", "yearly_report"]})
    partitions = {m["partition"] for m in body["data"]["assetOrError"]["assetMaterializations"]}
    assert {"2018", "2020", "2021"} <= partitions
