"""The `ssm` command as an analyst runs it: a subprocess, its exit status and what it prints."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
from email import policy
from pathlib import Path

import duckdb

from pipelines.generators.demo import write_demo_data
from tests.conftest import BuiltPipeline, pipeline_env
from tests.report_email_parts import report_message_problems

SSM = str(Path(sys.executable).parent / "ssm")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def ssm(
    root: Path, *args: str, env_extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    env = pipeline_env(root)
    env.update(env_extra or {})
    for name in drop:
        env.pop(name, None)
    return subprocess.run(
        [SSM, *args], env=env, capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT
    )


def test_validate_prints_buckets_and_issues(tmp_path: Path) -> None:
    write_demo_data(tmp_path, years=[2017])
    result = ssm(tmp_path, "validate", str(tmp_path / "landing" / "ssm_survey_2017.csv"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "instrument v1" in out
    assert "respondent" in out and "preview" in out
    # the demo's planted bad cells of 2017: an age in words and specialty code 99
    assert "column Q3: 'twenty six' (not_an_integer)" in out
    assert "column Q4: '99' (not_in_code_list)" in out
    assert "Nothing was loaded" in out
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_validate_refuses_junk_without_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "ssm_survey_2024.csv"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    result = ssm(tmp_path, "validate", str(junk))
    assert result.returncode == 2
    assert "ssm_survey_2024.csv" in result.stderr and "NUL byte" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_run_without_salt_refuses_clearly(tmp_path: Path) -> None:
    write_demo_data(tmp_path, years=[2019])
    result = ssm(tmp_path, "run", drop=("SSM_RESPONSE_SALT",))
    assert result.returncode == 1
    assert "SSM_RESPONSE_SALT is not set" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rows = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True);"
            "print(c.execute('select count(*) from raw.responses').fetchone()[0])",
            str(tmp_path / "warehouse.duckdb"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert rows.stdout.strip() == "0"  # refused before anything was loaded


def test_run_with_nothing_new_does_nothing(built_pipeline: BuiltPipeline) -> None:
    result = ssm(built_pipeline.root, "run")
    assert result.returncode == 0, result.stderr
    assert "Nothing new" in result.stdout


def test_run_with_nothing_new_loads_neither_dagster_nor_dbt(built_pipeline: BuiltPipeline) -> None:
    """Promise (issue 15): `ssm run` with nothing new decides so from the data folder alone; it never
    imports Dagster, dbt or the data libraries (seconds of start-up for an answer of "nothing")."""
    heavy = ("dagster", "dagster_dbt", "dbt", "pandas", "pandera", "scipy", "matplotlib")
    script = (
        "import sys\n"
        "from pipelines.cli import main\n"
        "main(['run'], standalone_mode=False)\n"
        f"print('IMPORTED', sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=pipeline_env(built_pipeline.root),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Nothing new" in result.stdout
    assert "IMPORTED []" in result.stdout, result.stdout


def test_status_lists_what_was_loaded(built_pipeline: BuiltPipeline) -> None:
    result = ssm(built_pipeline.root, "status")
    assert result.returncode == 0, result.stderr
    for year in ("2018", "2020", "2021"):
        assert f"{year}  loaded     ssm_survey_{year}.csv" in result.stdout


def test_report_send_writes_outbox_once(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    # A copy: the runs and e-mails of this test must not show in the shared build's Dagster history.
    root = tmp_path / "data"
    shutil.copytree(built_pipeline.root, root, ignore=shutil.ignore_patterns("*.lock"))
    recipients = {"SSM_REPORT_RECIPIENTS": "dean@example.edu, vice.dean@example.edu"}
    first = ssm(root, "report", "--year", "2018", "--send", env_extra=recipients)
    assert first.returncode == 0, first.stdout + first.stderr
    outbox = sorted((root / "outbox").glob("*.eml"))
    assert len(outbox) == 1
    message = email.message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    assert message["To"] == "dean@example.edu, vice.dean@example.edu"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and "2018" in plain.get_content()
    # Text and HTML with inline images, and the report attached as ssm_report_2018.pdf.
    assert report_message_problems(message, 2018) == []

    second = ssm(root, "report", "--year", "2018", "--send", env_extra=recipients)
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted((root / "outbox").glob("*.eml")) == outbox  # unchanged report: not sent again
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        ledger = con.execute(
            "select recipient, outcome from ops.report_emails where survey_year = 2018 order by recipient"
        ).fetchall()
    assert ledger == [
        ("dean@example.edu", "written_to_outbox"),
        ("vice.dean@example.edu", "written_to_outbox"),
    ]


def test_definitions_validate(built_pipeline: BuiltPipeline) -> None:
    dagster = str(Path(sys.executable).parent / "dagster")
    result = subprocess.run(
        [dagster, "definitions", "validate", "-m", "pipelines.definitions"],
        env=pipeline_env(built_pipeline.root),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
