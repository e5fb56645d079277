"""A new metric is configuration (issue 16): added to a copy of the codebook, it reaches the marts and
the report without an edit of Python or SQL.

The project is copied (its tracked files), the copy's codebook gains the metric "had a student mentor"
(the share answering yes to had_student_mentor, compared between mentors and non-mentors), dbt's
generated files are written again from it as `make codebook` does, and the copy's `ssm run` loads two
years. The figures are counted here from the rows written, not by the pipeline's code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import pipeline_env
from tests.deliveries import v2_row, write_v2

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NEW_METRIC = {
    "variable": "had_student_mentor",
    "yes": ["yes"],
    "answer": "yes",
    "cohorts": ["all", "mentor", "non_mentor"],
    "compared": True,
    "label": "Had a student mentor",
    "clause": "they had a student mentor as a junior student",
}
HAD = {"yes": "Yes", "no": "No", "not_sure": "Not sure"}


def copy_project(target: Path) -> Path:
    """The project's tracked files (no data folder, no venv) in `target`."""
    files = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    for name in files:
        source = PROJECT_ROOT / name
        if name and not name.startswith("data/") and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def people(year: int) -> list[tuple[str, str, str]]:
    """(ResponseId, mentor_formal, had_student_mentor) of a year's respondents, deterministic."""
    rows = []
    for i in range(40):
        formal = "yes" if i % 2 == 0 else "no"
        had = ("yes", "yes", "no", "not_sure", "yes")[(i + year) % 5] if i % 7 else ""
        rows.append((f"R_{year}_{i}", formal, had))
    return rows


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, list]]:
    project = copy_project(tmp_path_factory.mktemp("project"))
    codebook_path = project / "schemas" / "codebook.yaml"
    book = yaml.safe_load(codebook_path.read_text(encoding="utf-8"))
    book["metrics"]["had_student_mentor"] = NEW_METRIC
    codebook_path.write_text(yaml.safe_dump(book, sort_keys=False, allow_unicode=True), encoding="utf-8")
    # make codebook, in the copy
    subprocess.run(
        [sys.executable, "-m", "pipelines.lib.warehouse.codebook_dbt"],
        cwd=project,
        check=True,
        capture_output=True,
    )

    root = tmp_path_factory.mktemp("data")
    (root / "landing").mkdir()
    (root / "reference").mkdir()
    (root / "reference" / "class_sizes.csv").write_text("survey_year,class_size\n2022,60\n2023,60\n")
    years = {year: people(year) for year in (2022, 2023)}
    for year, rows in years.items():
        write_v2(
            root / "landing" / f"ssm_survey_{year}.csv",
            [
                v2_row(
                    rid,
                    recorded=f"{year}-04-01 10:00:00",
                    mentor_formal="Yes" if formal == "yes" else "No",
                    mentor_again="Yes" if formal == "yes" else "",
                    nonpart_reasons="" if formal == "yes" else "Was not aware of the program",
                    had_student_mentor=HAD.get(had, ""),
                )
                for rid, formal, had in rows
            ],
        )
    env = pipeline_env(root) | {"PYTHONPATH": str(project)}
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, years


def test_the_new_metric_is_in_the_marts(loaded) -> None:
    root, years = loaded
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        summary = {
            (year, cohort): (x, n)
            for year, cohort, x, n in con.execute(
                "select survey_year, cohort, numerator, denominator from marts.metric_summary "
                "where metric_id = 'had_student_mentor'"
            ).fetchall()
        }
        compared = {
            year: (a, an, c, cn)
            for year, a, an, c, cn in con.execute(
                "select survey_year, mentor_yes, mentor_n, non_mentor_yes, non_mentor_n "
                "from marts.cohort_comparisons where metric_id = 'had_student_mentor'"
            ).fetchall()
        }
        levels = {
            (year, level): n
            for year, level, n in con.execute(
                "select survey_year, level, n from marts.item_distributions "
                "where metric_id = 'had_student_mentor' and cohort = 'all'"
            ).fetchall()
        }
    finally:
        con.close()
    for year, rows in years.items():
        cohorts = {"mentor": "yes", "non_mentor": "no"}
        expected = {}
        for cohort in ("all", "mentor", "non_mentor"):
            answered = [
                had for _, formal, had in rows if had and (cohort == "all" or formal == cohorts[cohort])
            ]
            expected[cohort] = (answered.count("yes"), len(answered))
            assert summary[year, cohort] == expected[cohort], (year, cohort)
        assert compared[year] == (*expected["mentor"], *expected["non_mentor"])
        for level in ("yes", "no", "not_sure"):
            assert levels[year, level] == sum(had == level for _, _, had in rows)


def test_the_new_metric_is_in_the_report(loaded) -> None:
    root, _ = loaded
    html = (root / "reports" / "2023" / "report.html").read_text(encoding="utf-8")
    assert "Had a student mentor" in html
    assert "As a junior student, did you have a student mentor?" in html
    assert "they had a student mentor as a junior student" in html
