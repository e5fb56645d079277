"""Blocking checks on the ingest assets: the bucket identity of spec §5."""

import dagster as dg
import duckdb

from pipelines.defs.resources import Warehouse
from pipelines.defs.shared import WAREHOUSE_POOL, survey_years
from pipelines.lib.warehouse.deliveries import loaded_delivery

BUCKET_IDENTITY_CHECK = "bucket_identity"


@dg.asset_check(
    asset=dg.AssetKey(["raw", "responses"]),
    name=BUCKET_IDENTITY_CHECK,
    blocking=True,
    partitions_def=survey_years,
    pool=WAREHOUSE_POOL,
    description="received = preview + incomplete + no_consent + duplicate + rejected + respondents",
)
def bucket_identity(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every raw row of the loaded delivery is in exactly one known bucket, and none is missing
    (for each year of the run; a batch passes only if every year does)."""
    years = sorted(int(key) for key in context.partition_keys)
    with warehouse.connect(read_only=False) as con:
        results = {year: _bucket_identity(con, year) for year in years}
    failing = [year for year, (passed, _, _) in results.items() if not passed]
    shown = failing or years
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(results[year][1] for year in shown),
        metadata=results[years[0]][2] if len(years) == 1 else {"years": years, "failing_years": failing},
    )


def _bucket_identity(con: duckdb.DuckDBPyConnection, year: int) -> tuple[bool, str, dict]:
    from pipelines.lib.ingest.harmonise import BUCKETS  # pandas: imported when run

    loaded = loaded_delivery(con, year)
    received = (loaded.rows_received, loaded.file_name) if loaded else None
    per_bucket = dict(
        con.execute(
            "select bucket, count(*) from raw.responses where survey_year = ? group by bucket", [year]
        ).fetchall()
    )
    unknown = sorted(set(per_bucket) - set(BUCKETS))
    total = sum(per_bucket.values())
    expected = received[0] if received else None
    passed = received is not None and not unknown and total == expected
    description = (
        f"{received[1] if received else 'no loaded delivery'}: received {expected}, "
        f"buckets sum to {total}" + (f", unknown buckets {unknown}" if unknown else "")
    )
    return passed, description, {"received": expected or 0, **{b: per_bucket.get(b, 0) for b in BUCKETS}}
