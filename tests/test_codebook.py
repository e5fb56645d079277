"""The codebook (schemas/codebook.yaml): the generated dbt files are current, and a codebook that
contradicts itself is refused with the file, the entry and what to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.lib.warehouse.codebook_dbt import stale_files
from schemas.codebook import CODEBOOK_PATH, CodebookError, codebook, load_codebook
from schemas.instruments import instruments, load_instruments
from tests.marts_tables import create_empty_marts


def test_generated_dbt_files_are_current() -> None:
    """Seeds and macros/codebook.sql are what the codebook gives: run `make codebook` after editing it."""
    assert stale_files() == []


def test_instruments_cover_each_year_once_and_v3_adds_mentor_prepared() -> None:
    book = codebook()
    assert [book.instrument_of_year(y).name for y in (2016, 2019, 2020, 2025, 2026, 2030)] == [
        "v1", "v1", "v2", "v2", "v3", "v3",
    ]  # fmt: skip
    by_name = {i.name: i for i in instruments()}
    assert set(by_name["v3"].variables) - set(by_name["v2"].variables) == {"mentor_prepared"}
    v2_reasons = [c.value for c in by_name["v2"].variables["nonpart_reasons"].choices]
    v3_reasons = [c.value for c in by_name["v3"].variables["nonpart_reasons"].choices]
    assert v2_reasons == [1, 2, 3, 4, 5, 6] and v3_reasons == [1, 2, 3, 4, 5, 6, 7]


def test_value_mentor_is_reworded_in_2026() -> None:
    variable = codebook().variables["value_mentor"]
    assert variable.series_starts() == [2026]
    assert variable.wording_in(2025).question != variable.wording_in(2026).question


@pytest.fixture
def codebook_copy(tmp_path: Path) -> Path:
    """A copy of schemas/ (the codebook and its mapping files) to break."""
    shutil.copytree(
        CODEBOOK_PATH.parent, tmp_path / "schemas", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return tmp_path / "schemas" / "codebook.yaml"


def edit(path: Path, change) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def test_the_copy_loads_unchanged(codebook_copy: Path) -> None:
    assert list(load_codebook(codebook_copy).metrics) == list(codebook().metrics)


@pytest.mark.parametrize(
    ("change", "entry", "words"),
    [
        (
            lambda raw: raw["metrics"]["value_mentee"].update(variable="value_mentees"),
            "metrics.value_mentee",
            "which variables does not define",
        ),
        (
            lambda raw: raw["instruments"]["v3"].update(years=[2025, None]),
            "instruments.v3",
            "claims the survey years of v2",
        ),
        (
            lambda raw: raw["cohorts"]["mentor"].update(rule={"mentor_formal": "si"}),
            "cohorts.mentor.rule",
            "not in its value set",
        ),
        (
            lambda raw: raw["metrics"]["mentor_again"].update({"yes": ["definitely"]}),
            "metrics.mentor_again.yes",
            "not values of mentor_again",
        ),
        (
            lambda raw: raw["variables"]["gender"].update(values="genders"),
            "variables.gender",
            "which value_sets does not define",
        ),
        (
            lambda raw: raw["instruments"]["v2"].update(offers={"nonpart_reasons": [1, 8]}),
            "instruments.v2.offers.nonpart_reasons",
            "not in its value set",
        ),
        (
            lambda raw: raw["characteristics"]["specialty_group"].update(
                tested=["primary_care", "surgical", "other", "not_matched"]
            ),
            "characteristics.specialty_group.tested",
            "lists 4 levels",
        ),
        (
            lambda raw: raw["metrics"]["value_mentee"].update(headline="find mentees useful"),
            "metrics",
            "gives a headline to value_distinct, value_mentee",
        ),
    ],
    ids=[
        "unknown-variable",
        "overlapping-years",
        "cohort-value",
        "yes-value",
        "value-set",
        "offers",
        "four-tested-levels",
        "two-headlines",
    ],
)
def test_a_contradiction_is_refused_naming_the_entry(
    codebook_copy: Path, change, entry: str, words: str
) -> None:
    edit(codebook_copy, change)
    with pytest.raises(CodebookError) as raised:
        load_codebook(codebook_copy)
    message = str(raised.value)
    assert str(codebook_copy) in message and entry in message and words in message, message


def test_every_mart_has_an_enforced_contract_and_the_cohort_tables_follow_the_codebook() -> None:
    """The marts' columns and types are declared once, as dbt contracts (a test that needs the tables
    empty builds them from the manifest); the cohort tables carry every answer column of the codebook."""
    con = duckdb.connect()
    try:
        made = create_empty_marts(con)  # asserts that each marts model's contract is enforced
        cohort_columns = [
            name
            for (name,) in con.execute("select column_name from (describe marts.cohort_mentors)").fetchall()
        ]
    finally:
        con.close()
    spec_marts = {  # spec §8
        "response_funnel", "cohort_mentors", "cohort_non_mentors", "metric_summary", "cohort_comparisons",
        "demographic_balance", "demographics_by_cohort", "nonparticipation_reasons", "item_distributions",
        "metric_trends", "metric_trend_tests", "data_quality_issues",
    }  # fmt: skip
    assert set(made) == spec_marts
    answers = [name for name, _ in codebook().answer_columns() if name != "consent"]
    free_text = {name for name, v in codebook().variables.items() if v.type == "text"}
    assert [c for c in cohort_columns if c in answers] == [a for a in answers if a not in free_text]
    assert "mentor_prepared" in cohort_columns and "nonpart_reason_7" in cohort_columns


def test_a_mapping_that_disagrees_with_the_codebook_is_refused(codebook_copy: Path) -> None:
    """A mapping decoding an answer to a value outside the variable's value set names the mapping file."""
    mapping = codebook_copy.parent / "instruments" / "v2.yaml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace(
            "{code: 1, label: Woman, value: female}", "{code: 1, label: Woman, value: woman}"
        ),
        encoding="utf-8",
    )
    with pytest.raises(CodebookError) as raised:
        load_instruments(load_codebook(codebook_copy))
    message = str(raised.value)
    assert str(mapping) in message and "variables.gender" in message and "['woman']" in message, message
