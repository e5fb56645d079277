"""Empty marts tables as dbt declares them: the columns and types of each model's enforced contract,
read from dbt's manifest (the marts' one declaration), for tests that fill the marts by hand."""

from __future__ import annotations

import json

import duckdb

from pipelines.project import dbt_project


def create_empty_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create schema marts and every contracted marts model in it, empty; returns the table names.

    The manifest is current: the test session parses the dbt project first (conftest.pytest_sessionstart).
    """
    manifest = json.loads(dbt_project.manifest_path.read_text(encoding="utf-8"))
    con.execute("create schema if not exists marts")
    made = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] != "marts":
            continue
        assert node["config"]["contract"]["enforced"], f"marts.{node['name']} has no enforced contract"
        columns = ", ".join(f'"{c["name"]}" {c["data_type"]}' for c in node["columns"].values())
        con.execute(f"create table marts.{node['name']} ({columns})")
        made.append(node["name"])
    return made
