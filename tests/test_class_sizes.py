"""reference/class_sizes.csv (spec §4, issue 15): a bad row of the reference file costs only that row.

The row is left out and recorded as an issue of the reference file (file, row, column, value, what
to fix: in the run's warnings, the asset's metadata and the WARN check on raw/class_sizes, and in
`ssm status`); its year gets no response rate and the warning of spec §4; every other year keeps its
class size. Only a file that is not a class-size table at all is refused, naming the file and what
to do.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main as ssm_main
from pipelines.lib.ingest.class_sizes import MAX_CLASS_SIZE, read_class_sizes
from pipelines.lib.ingest.errors import DeliveryError
from tests.conftest import run_pending, set_pipeline_env
from tests.deliveries import v1_row, write_v1

TODAY = date(2026, 12, 7)
GOOD_ROWS = "2018,178\n2021,190\n"


def table_of(tmp_path: Path, text: str | bytes):
    path = tmp_path / "class_sizes.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path, read_class_sizes(path, today=TODAY)


@pytest.mark.parametrize(
    ("bad_row", "row_year", "column", "rule"),
    [
        ("2019,0", 2019, "class_size", "out_of_range"),  # no class has 0 students
        ("2019,-12", 2019, "class_size", "out_of_range"),
        (f"2019,{MAX_CLASS_SIZE + 1}", 2019, "class_size", "out_of_range"),  # not even a consortium
        ("2019,abc", 2019, "class_size", "not_a_whole_number"),
        ("2019,178.5", 2019, "class_size", "not_a_whole_number"),
        ("2019,", 2019, "class_size", "not_a_whole_number"),  # the size left empty
        ("twenty,178", None, "survey_year", "not_a_whole_number"),
        ("2031,178", None, "survey_year", "out_of_range"),  # no class of 2031 has started by 2026
        ("201,178", None, "survey_year", "out_of_range"),  # not a four-digit year
        ("2019,70,000", None, None, "wrong_field_count"),  # a thousands separator splits the row
        ("2019", None, None, "wrong_field_count"),
        ('"2019,178', None, None, "wrong_field_count"),  # a quote that never closes: one field
    ],
)
def test_a_bad_row_costs_only_itself(
    tmp_path: Path, bad_row: str, row_year: int | None, column: str | None, rule: str
) -> None:
    path, table = table_of(tmp_path, f"survey_year,class_size\n2018,178\n{bad_row}\n2021,190\n")
    assert table.sizes == {2018: 178, 2021: 190}
    (issue,) = table.issues
    assert (issue.row_number, issue.column, issue.rule, issue.survey_year) == (3, column, rule, row_year)
    message = issue.message(path)
    assert message.startswith(f"{path}, row 3")
    assert "Write" in message or "Check" in message  # says what to do
    if rule == "wrong_field_count" and "70,000" in bad_row:
        assert "70000, not 70,000" in message


def test_history_back_to_1985_is_ordinary_and_the_latest_year_is_this_year_plus_four(tmp_path: Path) -> None:
    """A class size for 1985 (40 years of history) is data, not an error; the class of 2030 (the M1s of
    autumn 2026) may be known; the class of 2031 has not started yet."""
    _, table = table_of(tmp_path, "survey_year,class_size\n1985,150\n2018,178\n2030,200\n2031,200\n")
    assert table.sizes == {1985: 150, 2018: 178, 2030: 200}
    assert [(i.row_number, i.rule) for i in table.issues] == [(5, "out_of_range")]
    assert "no class graduating after 2030 has started medical school yet" in table.issues[0].problem


def test_a_year_listed_twice(tmp_path: Path) -> None:
    """Two different sizes for a year: neither can be trusted, so the year has none (both rows are
    named); the same size twice: the size is used and the repeated row named."""
    _, table = table_of(
        tmp_path, "survey_year,class_size\n2018,178\n2019,150\n2019,151\n2020,160\n2020,160\n"
    )
    assert table.sizes == {2018: 178, 2020: 160}
    assert [(i.row_number, i.survey_year, i.rule) for i in table.issues] == [
        (3, 2019, "duplicate_year"),
        (4, 2019, "duplicate_year"),
        (6, 2020, "duplicate_year"),
    ]
    assert "row 3: 150, row 4: 151" in table.issues[0].problem
    assert "The size is used; delete the repeated row" in table.issues[2].action


def test_unreadable_bytes_cost_their_row_only(tmp_path: Path) -> None:
    text = b"\xef\xbb\xbfsurvey_year,class_size\r\n2018,178\r\n\r\n2019,1\xff8\r\n,\r\n2021,190\r\n"
    _, table = table_of(tmp_path, text)  # a byte-order mark, CRLF, a blank line, an empty spreadsheet row
    assert table.sizes == {2018: 178, 2021: 190}
    assert [(i.row_number, i.rule) for i in table.issues] == [(4, "not_a_whole_number")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("year,size\n2018,178\n", "is not a class-size table: its first row is 'year,size'"),
        ("2018,178\n2019,150\n", "is not a class-size table: its first row is '2018,178'"),
        ("ssm_survey export\nStartDate,EndDate\n", "is not a class-size table"),
    ],
)
def test_a_file_that_is_not_a_class_size_table_is_refused_by_name(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "class_sizes.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DeliveryError) as raised:
        read_class_sizes(path, today=TODAY)
    message = str(raised.value)
    assert message.startswith(str(path)) and problem in message
    assert "survey_year,class_size" in message  # what the file must look like


# --------------------------------------------------------------------------------------------------
# Through the real pipeline: `ssm run` and `ssm status` as the analyst sees them
# --------------------------------------------------------------------------------------------------

RESPONDENTS = 30  # per delivered year (all consenting, finished non-mentors)
# History (1985), a class of 0 (2016), a non-number (2017), a good year (2018), a year listed twice with
# different sizes (2019), a row split by a thousands separator, a year no class has reached yet.
CLASS_SIZES = "\n".join(
    [
        "survey_year,class_size",
        "1985,150",
        "2016,0",
        "2017,forty",
        "2018,40",
        "2019,35",
        "2019,36",
        "2015,70,000",
        "2062,45",
        "",
    ]
)


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    set_pipeline_env(monkeypatch, root)
    (root / "landing").mkdir(parents=True)
    (root / "reference").mkdir()
    for year in (2016, 2017, 2018, 2019):
        rows = [v1_row(f"R_{year}_{i}", end=f"{year}-04-02 09:00:00") for i in range(RESPONDENTS)]
        write_v1(root / "landing" / f"ssm_survey_{year}.csv", rows)
    (root / "reference" / "class_sizes.csv").write_text(CLASS_SIZES, encoding="utf-8")
    return root


def funnel(root: Path) -> dict[int, tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select survey_year, class_size, respondents, response_rate from marts.response_funnel"
        ).fetchall()
    return {year: (size, respondents, rate) for year, size, respondents, rate in rows}


def latest_check(asset: list[str], name: str) -> dg.AssetCheckEvaluation:
    (record,) = dg.DagsterInstance.get().event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), name), limit=1
    )
    return record.evaluation


def test_bad_rows_of_the_reference_file_cost_only_their_years(data_root: Path) -> None:
    """Promise (issue 15): every year loads; the years whose row was good keep their response rate;
    each bad row is named with its file, row, column, value and fix in the run's warnings, in the WARN
    check on raw/class_sizes and in `ssm status`; each year without a class size gets no response rate
    and the §4 warning (class_size_on_record) that says why. A class size below the year's respondents
    (a response rate over 100%) costs its year the same way, not the build."""
    path = data_root / "reference" / "class_sizes.csv"
    outcomes = run_pending(data_root)
    assert [o.succeeded for o in outcomes] == [True] * 4, [o.message for o in outcomes]

    marts = funnel(data_root)
    assert marts[2018] == (40, RESPONDENTS, RESPONDENTS / 40)
    for year in (2016, 2017, 2019):
        assert marts[year] == (None, RESPONDENTS, None), year
    with duckdb.connect(str(data_root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select * from raw.class_sizes order by 1").fetchall() == [(1985, 150), (2018, 40)]

    # What `ssm run` prints (each year's notes): one warning per bad row, file, row and column first.
    notes = outcomes[0].notes
    for row, column in [(3, "class_size"), (4, "class_size"), (6, "survey_year"), (7, "survey_year"),
                        (8, None), (9, "survey_year")]:  # fmt: skip
        where = f"{path}, row {row}" + (f", column {column}" if column else "")
        assert any(note.startswith(where + ":") for note in notes), (where, notes)
    assert any("'forty' is not a whole number of students, so 2017 gets no response rate" in n for n in notes)

    # The reference file's own check: WARN, every bad row with its value and what to do.
    rows_check = latest_check(["raw", "class_sizes"], "every_row_gives_a_class_size")
    assert not rows_check.passed and rows_check.severity == dg.AssetCheckSeverity.WARN
    issues = rows_check.metadata["issues"].value
    assert [(i["row"], i["column"], i["value"], i["rule"]) for i in issues] == [
        (3, "class_size", "0", "out_of_range"),
        (4, "class_size", "forty", "not_a_whole_number"),
        (6, "survey_year", "2019", "duplicate_year"),
        (7, "survey_year", "2019", "duplicate_year"),
        (8, "", "2015,70,000", "wrong_field_count"),
        (9, "survey_year", "2062", "out_of_range"),
    ]
    assert all(i["what to do"] for i in issues)

    # Spec §4's warning on the marts, with the reason for each year.
    on_record = latest_check(["marts", "response_funnel"], "class_size_on_record")
    assert not on_record.passed and on_record.severity == dg.AssetCheckSeverity.WARN
    assert on_record.description.startswith(f"No class size for 2016, 2017, 2019 in {path}")
    assert f"2016: {path}, row 3, column class_size: 0 is not a class size" in on_record.description

    # `ssm status` shows the file as the next run will read it.
    status = CliRunner().invoke(ssm_main, ["status"])
    assert status.exit_code == 0, status.output
    assert f"Class sizes: 2 survey years (1985-2018) in {path}." in status.output
    assert "6 row(s) to fix" in status.output
    assert f"{path}, row 4, column class_size: the class size 'forty'" in status.output

    # The analyst fixes 2016, and mistypes 2018 as 4 (below its 30 respondents); both years run again.
    path.write_text(CLASS_SIZES.replace("2016,0", "2016,45").replace("2018,40", "2018,4"), encoding="utf-8")
    outcomes = run_pending(data_root, years=[2016, 2018])
    assert [o.succeeded for o in outcomes] == [True, True], [o.message for o in outcomes]
    marts = funnel(data_root)
    assert marts[2016] == (45, RESPONDENTS, RESPONDENTS / 45)
    assert marts[2018] == (None, RESPONDENTS, None)
    on_record = latest_check(["marts", "response_funnel"], "class_size_on_record")
    assert on_record.description.startswith(f"No class size for 2017, 2018, 2019 in {path}")
    assert f"2018: the class size 4 is below the year's {RESPONDENTS} respondents" in on_record.description


def test_a_reference_file_that_is_no_table_stops_the_run_and_says_what_to_do(data_root: Path) -> None:
    """A file that is not a class-size table at all (the wrong file copied in) is an error naming the
    file and what to do, as before: no year loads, the warehouse has nothing half-done."""
    path = data_root / "reference" / "class_sizes.csv"
    path.write_text("StartDate,EndDate,Status\n2018-04-01,2018-04-01,0\n", encoding="utf-8")
    (outcome,) = run_pending(data_root, only=[2018])
    assert not outcome.succeeded
    assert f"{path}, row 1: is not a class-size table" in outcome.message
    assert "Put the header survey_year,class_size on the first row" in outcome.message
