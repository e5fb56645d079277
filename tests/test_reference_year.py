"""The whole graph on demo data, in-process with real dbt and DuckDB: the §10 reference year comes out
exactly as the specification's table says, and every other year is accounted for."""

from __future__ import annotations

import csv

import pytest
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import proportion_confint

from tests.conftest import BUILT_YEARS, BuiltPipeline


def test_every_year_ran(built_pipeline: BuiltPipeline) -> None:
    assert [(o.survey_year, o.succeeded) for o in built_pipeline.outcomes] == [
        (y, True) for y in BUILT_YEARS
    ], [o.message for o in built_pipeline.outcomes]


def test_funnel_matches_spec_table(built_pipeline: BuiltPipeline) -> None:
    (row,) = built_pipeline.query(
        "select class_size, received, preview, incomplete, no_consent, duplicate, rejected, respondents,"
        " response_rate, mentors, non_mentors, informal, unclassified, instrument_version"
        " from marts.response_funnel where survey_year = 2018"
    )
    # The figures of spec §10, written out from the specification's table.
    assert row[:8] == (178, 116, 3, 4, 1, 1, 0, 107)
    assert row[8] == pytest.approx(107 / 178, abs=1e-12)
    assert row[9:] == (42, 48, 17, 0, "v1")


def test_funnel_identity_holds_every_year(built_pipeline: BuiltPipeline) -> None:
    rows = built_pipeline.query(
        "select survey_year, received, preview + incomplete + no_consent + duplicate + rejected + respondents,"
        " respondents, mentors + non_mentors + informal + unclassified from marts.response_funnel"
        " order by survey_year"
    )
    assert [r[0] for r in rows] == list(BUILT_YEARS)
    for year, received, bucket_sum, respondents, cohort_sum in rows:
        assert received == bucket_sum, year
        assert respondents == cohort_sum, year


@pytest.mark.parametrize(
    ("metric_id", "cohort", "numerator", "denominator"),
    [
        ("value_distinct", "all", 102, 107),
        ("value_mentee", "mentor", 36, 42),
        ("value_mentee", "non_mentor", 22, 48),
        ("value_mentor", "mentor", 34, 42),
        ("value_mentor", "non_mentor", 25, 48),
        ("mentor_again", "mentor", 35, 42),
        ("mentor_worthwhile", "mentor", 31, 42),
    ],
)
def test_reference_metrics(built_pipeline: BuiltPipeline, metric_id, cohort, numerator, denominator) -> None:
    (row,) = built_pipeline.query(
        "select numerator, denominator, proportion, ci_low, ci_high from marts.metric_summary"
        " where survey_year = 2018 and metric_id = ? and cohort = ?",
        [metric_id, cohort],
    )
    low, high = proportion_confint(numerator, denominator, alpha=0.05, method="wilson")
    assert row[:2] == (numerator, denominator)
    assert row[2] == pytest.approx(numerator / denominator, abs=1e-12)
    assert row[3] == pytest.approx(low, abs=1e-9)
    assert row[4] == pytest.approx(high, abs=1e-9)


def test_reference_ratios(built_pipeline: BuiltPipeline) -> None:
    rows = {
        r[0]: r[1:]
        for r in built_pipeline.query(
            "select metric_id, mentor_yes, mentor_n, non_mentor_yes, non_mentor_n, risk_ratio, rr_ci_low,"
            " rr_ci_high, odds_ratio, or_ci_low, or_ci_high, zero_cell_corrected"
            " from marts.cohort_comparisons where survey_year = 2018"
        )
    }
    for metric_id, (a, n1, c, n2) in {
        "value_mentee": (36, 42, 22, 48),
        "value_mentor": (34, 42, 25, 48),
    }.items():
        row = rows[metric_id]
        assert row[:4] == (a, n1, c, n2)
        table = Table2x2([[a, n1 - a], [c, n2 - c]], shift_zeros=False)
        assert row[4] == pytest.approx(table.riskratio, abs=1e-9)
        assert row[5:7] == pytest.approx(table.riskratio_confint(alpha=0.05), abs=1e-9)
        assert row[7] == pytest.approx(table.oddsratio, abs=1e-9)
        assert row[8:10] == pytest.approx(table.oddsratio_confint(alpha=0.05), abs=1e-9)
        assert row[10] is False
    # "nearly twice as likely" and "4 times" of the abstract
    assert rows["value_mentee"][4] == pytest.approx(1.87, abs=0.005)
    assert rows["value_mentor"][7] == pytest.approx(3.9, abs=0.05)


def test_reference_demographics_and_reasons(built_pipeline: BuiltPipeline) -> None:
    counts = dict(
        ((r[0], r[1], r[2]), r[3])
        for r in built_pipeline.query(
            "select characteristic, level, cohort, n from marts.demographics_by_cohort"
            " where survey_year = 2018 and characteristic in ('gender', 'specialty_group')"
        )
    )
    assert [counts["gender", g, "mentor"] for g in ("female", "male")] == [24, 18]
    assert [counts["gender", g, "non_mentor"] for g in ("female", "male")] == [26, 22]
    groups = ("primary_care", "surgical", "other", "not_matched")
    assert [counts["specialty_group", g, "mentor"] for g in groups] == [16, 12, 13, 1]
    assert [counts["specialty_group", g, "non_mentor"] for g in groups] == [18, 14, 15, 1]
    reasons = built_pipeline.query(
        "select n from marts.nonparticipation_reasons where survey_year = 2018 order by reason_code"
    )
    assert [r[0] for r in reasons] == [30, 9, 12, 5, 4, 3]
    balance = dict(
        built_pipeline.query(
            "select characteristic, p_value from marts.demographic_balance where survey_year = 2018"
        )
    )
    assert all(p > 0.05 for p in balance.values()), balance  # "no differences" of the abstract


def _identifiers_in_landing(root) -> set[str]:
    """Names, e-mails, IPs, external references and ResponseIds, read straight from the raw files."""
    found: set[str] = set()
    for path in sorted((root / "landing").glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        header = rows[0]
        data = rows[2:] if "V1" in header else rows[3:]
        for row in data:
            cell = dict(zip(header, row, strict=False))
            if "V1" in header:  # v1: ResponseID, Name, ExternalDataReference, EmailAddress, IPAddress
                values = [cell["V1"], cell["V3"], cell["V4"], cell["V5"], cell["V6"]]
            else:
                values = [
                    cell["ResponseId"],
                    cell["IPAddress"],
                    cell["RecipientEmail"],
                    cell["ExternalReference"],
                    f"{cell['RecipientFirstName']} {cell['RecipientLastName']}",
                ]
            found.update(v for v in values if len(v.strip()) > 3)
    return found


def test_no_identifier_reaches_the_warehouse(built_pipeline: BuiltPipeline) -> None:
    """Names, e-mail addresses, IPs and raw ResponseIds of the deliveries never enter any table (§6)."""
    identifiers = _identifiers_in_landing(built_pipeline.root)
    assert len(identifiers) > 300  # the demo files do carry identifiers, so the scan means something
    tables = built_pipeline.query(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema not in ('information_schema', 'pg_catalog')"
    )
    dump = "\n".join(
        built_pipeline.frame(f'select * from "{schema}"."{name}"').astype(str).to_csv()
        for schema, name in tables
    )
    leaked = sorted(i for i in identifiers if i in dump)
    assert leaked == []


def test_reports_written_for_every_year(built_pipeline: BuiltPipeline) -> None:
    for year in BUILT_YEARS:
        report = built_pipeline.root / "reports" / str(year) / "report.html"
        assert report.is_file(), report
        html = report.read_text(encoding="utf-8")
        assert str(year) in html
