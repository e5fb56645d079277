"""Property: whatever mixture of valid and invalid rows a delivery holds, every raw row lands in exactly
one bucket, received = the sum of the buckets, and bad cells never remove a respondent (spec §5)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.lib.ingest.harmonise import BUCKETS, harmonise
from pipelines.lib.ingest.readers import read_delivery
from tests.deliveries import V2_COLUMNS, csv_text, v2_headers, v2_row

KINDS = ["respondent", "preview", "incomplete", "no_consent", "no_id", "short", "bad_cells", "duplicate"]
EXPECTED_BUCKET = {
    "preview": "preview",
    "incomplete": "incomplete",
    "no_consent": "no_consent",
    "no_id": "rejected",
    "short": "rejected",
    "respondent": "respondent",
    "bad_cells": "respondent",
}


def make_row(kind: str, index: int, text: str) -> list[str]:
    """One row of the given kind; every row but the "duplicate" kind has its own ResponseId."""
    rid = f"R_{index + 1}"
    rows = {
        "preview": lambda: v2_row(rid, status="Survey Preview"),
        "incomplete": lambda: v2_row(rid, progress="50", finished="False"),
        "no_consent": lambda: v2_row(rid, consent="No"),
        "no_id": lambda: v2_row(""),
        "short": lambda: v2_row(rid)[: len(V2_COLUMNS) // 2],
        "bad_cells": lambda: v2_row(rid, age=text, specialty=text, SSM_value_1=text, comments=text),
        "duplicate": lambda: v2_row("R_shared", recorded=f"2022-04-{1 + index % 28:02d} 10:00:00"),
        "respondent": lambda: v2_row(rid),
    }
    return rows[kind]()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=40),
    text=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30
    ),
)
def test_every_row_in_exactly_one_bucket(kinds: list[str], text: str) -> None:
    rows = [make_row(kind, i, text) for i, kind in enumerate(kinds)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ssm_survey_2022.csv"
        path.write_text(csv_text(v2_headers(), rows), encoding="utf-8")
        table = read_delivery(path)
        result = harmonise(table, 2022, "salt")
    buckets = list(result.responses["bucket"])
    assert set(buckets) <= set(BUCKETS)
    assert sum(result.bucket_counts().values()) == len(table.rows) == len(kinds)
    assert result.responses["row_number"].is_unique
    for kind, bucket in zip(kinds, buckets, strict=True):
        if kind in EXPECTED_BUCKET:
            assert bucket == EXPECTED_BUCKET[kind], (kind, bucket)
    shared = [b for k, b in zip(kinds, buckets, strict=True) if k == "duplicate"]
    if shared:  # of the rows sharing one ResponseId, exactly one is kept
        assert shared.count("respondent") == 1 and shared.count("duplicate") == len(shared) - 1
