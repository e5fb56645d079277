"""The codebook as dbt reads it: seeds, one macro file and the cohort tables' contracts, generated from
schemas/codebook.yaml.

dbt cannot read the codebook itself, so its code lists (seeds), its structure (the macro file: which
variables the metrics ask, the cohort rules, the free-text columns) and the columns of the cohort
tables (models/marts/_cohort_tables.yml, one per answer column) are written from it here.
They are committed, so that `dbt parse` and a reviewer see them; `make codebook` writes them again
after the codebook changed, and tests/test_codebook.py fails while they are not current.

    python -m pipelines.lib.warehouse.codebook_dbt          # write the files
    python -m pipelines.lib.warehouse.codebook_dbt --check  # exit 1 and name the stale ones
"""

from __future__ import annotations

import copy
import csv
import io
import json
import sys
from pathlib import Path

import yaml

from pipelines.paths import PROJECT_ROOT
from schemas.codebook import Codebook, codebook
from schemas.instruments import instruments

DBT_DIR = PROJECT_ROOT / "dbt_project"
MACRO_FILE = DBT_DIR / "macros" / "codebook.sql"
COHORT_TABLES_FILE = DBT_DIR / "models" / "marts" / "_cohort_tables.yml"
SEEDS_DIR = DBT_DIR / "seeds"
_HEADER = "generated from schemas/codebook.yaml by `make codebook`; do not edit"


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["true" if v is True else "false" if v is False else v for v in row] for row in rows)
    return buffer.getvalue()


def _sql_text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _condition(rule: dict[str, object]) -> str:
    return " and ".join(f"{name} = {_sql_text(value)}" for name, value in rule.items())


def _macro(book: Codebook) -> str:
    """The macro file: the codebook's structure as Jinja values and SQL expressions."""
    metric_variables = book.metric_variables()
    text_variables = [name for name, v in book.variables.items() if v.type == "text"]
    compared = [c.name for c in book.cohorts.values() if c.compared]
    prefixes = {b.name: book.variables[b.variable].column_prefix for b in book.breakdowns.values()}
    characteristics = [
        {
            "name": c.name,
            "column": f"{c.variable}_{c.grouped_by}" if c.grouped_by else c.variable,
            "numeric": book.variables[c.variable].type == "integer",
            "tested": [str(level) for level in c.tested],
        }
        for c in book.characteristics.values()
    ]
    cases = "\n".join(
        f"        when {_condition(c.rule)} then {_sql_text(c.name)}"
        for c in book.cohorts.values()
        if not c.otherwise
    )
    otherwise = next(c.name for c in book.cohorts.values() if c.otherwise)
    return f"""{{#- {_HEADER}. -#}}

{{#- The variables behind the metrics of metric_summary and item_distributions, in codebook order. -#}}
{{% macro codebook_metric_variables() %}}{{{{ return({json.dumps(metric_variables)}) }}}}{{% endmacro %}}

{{#- The free-text variables: kept in raw.responses (contacts masked), never selected beyond it (spec §6). -#}}
{{% macro codebook_text_variables() %}}{{{{ return({json.dumps(text_variables)}) }}}}{{% endmacro %}}

{{#- The two cohorts the comparisons set against each other (spec §7). -#}}
{{% macro codebook_compared_cohorts() %}}{{{{ return({json.dumps(compared)}) }}}}{{% endmacro %}}

{{#- The column prefix of each multi-select breakdown (one true/false column per answer). -#}}
{{% macro codebook_breakdown_prefix(name) %}}{{{{ return({json.dumps(prefixes)}[name]) }}}}{{% endmacro %}}

{{#- The demographic characteristics: name, the column of the cohort tables that holds it, whether it
    is a number (mean and SD) rather than categories (counts per level, seed characteristic_levels), and
    the levels its test compares (demographic_balance). -#}}
{{% macro codebook_characteristics() %}}{{{{ return({json.dumps(characteristics)}) }}}}{{% endmacro %}}

{{#- The cohort of spec §7: the codebook's rules in order, the first that holds. -#}}
{{% macro codebook_cohort() -%}}
    case
{cases}
        else {_sql_text(otherwise)}
    end
{{%- endmacro %}}
"""


def _cohort_tables(book: Codebook) -> str:
    """The properties of the cohort tables (marts.cohort_<total> of each compared cohort): their columns
    and types, one per answer column of the codebook, as an enforced dbt contract, and the cohort's
    rule as tests."""
    columns: list[dict[str, object]] = [
        {"name": "respondent_key", "data_type": "varchar", "description": "Salted SHA-256 of the Qualtrics ResponseId.",
         "data_tests": ["not_null"]},
        {"name": "survey_year", "data_type": "integer", "description": "The survey year (graduation year)."},
    ]  # fmt: skip
    for variable in book.variables.values():
        if variable.type == "text" or variable.name == "consent":
            continue  # free text never leaves raw (spec §6); every respondent consented
        for name, sql_type in variable.columns():
            columns.append(
                {"name": name, "data_type": sql_type, "description": variable.wordings[-1].question}
            )
        if any(answer.group for answer in variable.values):
            columns.append(
                {
                    "name": f"{variable.name}_group",
                    "data_type": "varchar",
                    "description": f"The group of {variable.name}.",
                }
            )
    models = []
    for cohort in book.cohorts.values():
        if not cohort.compared:
            continue
        tested = [
            {
                **column,
                "data_tests": [{"accepted_values": {"arguments": {"values": [cohort.rule[column["name"]]]}}}],
            }
            if column["name"] in cohort.rule
            else column
            for column in copy.deepcopy(columns)  # each model its own (no YAML anchors)
        ]
        models.append(
            {
                "name": f"cohort_{cohort.total}",
                "description": f"{cohort.label}: {cohort.description} One row per respondent and year.",
                "config": {"contract": {"enforced": True}},
                "data_tests": [
                    {"unique_combination": {"arguments": {"columns": ["survey_year", "respondent_key"]}}}
                ],
                "columns": tested,
            }
        )
    return f"# {_HEADER}.\n" + yaml.safe_dump(
        {"version": 2, "models": models}, sort_keys=False, allow_unicode=True, width=110
    )


def generated_files(book: Codebook) -> dict[Path, str]:
    """Every file written from the codebook, by path, with its content."""
    specialties = book.value_sets["specialties"]
    reasons = book.variables[next(iter(book.breakdowns.values())).variable].values
    asked = _asked(book)
    files = {
        SEEDS_DIR / "specialty_codes.csv": _csv(
            ["specialty_code", "specialty_label", "specialty_group"],
            [[a.value, a.label, a.group] for a in specialties],
        ),
        SEEDS_DIR / "reason_codes.csv": _csv(
            ["reason_code", "reason_label"], [[a.value, a.label] for a in reasons]
        ),
        SEEDS_DIR / "item_series.csv": _csv(
            ["metric_id", "series_start"],
            [
                [m.metric_id, start]
                for m in book.metrics.values()
                for start in book.variables[m.variable].series_starts()
            ],
        ),
        SEEDS_DIR / "metrics.csv": _csv(
            ["metric_id", "variable", "compared", "metric_order"],
            [[m.metric_id, m.variable, m.compared, i] for i, m in enumerate(book.metrics.values(), 1)],
        ),
        SEEDS_DIR / "metric_levels.csv": _csv(
            ["metric_id", "level", "level_order", "counts_as_yes"],
            [
                [m.metric_id, value, i, value in m.yes]
                for m in book.metrics.values()
                for i, value in enumerate(book.variables[m.variable].value_list, 1)
            ],
        ),
        SEEDS_DIR / "characteristic_levels.csv": _csv(
            ["characteristic", "level", "level_order"],
            [
                [c.name, answer.value, i]
                for c in book.characteristics.values()
                if book.variables[c.variable].type != "integer"
                for i, answer in enumerate(
                    book.specialty_groups if c.grouped_by else book.variables[c.variable].values, 1
                )
            ],
        ),
        SEEDS_DIR / "instrument_items.csv": _csv(
            ["instrument_version", "variable"],
            [[name, variable] for name, variable in asked],
        ),
        SEEDS_DIR / "instrument_options.csv": _csv(
            ["instrument_version", "variable", "option_code"],
            [
                [entry.name, variable.name, value]
                for entry in book.instruments.values()
                for variable in book.variables.values()
                if variable.type == "multi" and (entry.name, variable.name) in asked
                for value in book.offered(entry.name, variable.name)
            ],
        ),
        MACRO_FILE: _macro(book),
        COHORT_TABLES_FILE: _cohort_tables(book),
    }
    return files


def _asked(book: Codebook) -> list[tuple[str, str]]:
    """(instrument, variable) for every codebook variable each instrument's mapping reads."""
    by_name = {i.name: i for i in instruments()}
    return [
        (name, variable)
        for name in book.instruments
        for variable in book.variables
        if variable in by_name[name].variables
    ]


def stale_files(book: Codebook | None = None) -> list[Path]:
    """The generated files whose content is not what the codebook gives (missing ones included)."""
    wanted = generated_files(book or codebook())
    return [
        path for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def write_files(book: Codebook | None = None) -> list[Path]:
    """Write the generated files that changed; returns them."""
    changed = []
    for path, text in generated_files(book or codebook()).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    """Write the files, or with --check say which are stale (exit status 1)."""
    if "--check" in argv:
        stale = stale_files()
        for path in stale:
            print(f"{path.relative_to(PROJECT_ROOT)} is not current: run `make codebook`", file=sys.stderr)
        return 1 if stale else 0
    for path in write_files():
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
