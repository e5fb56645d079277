"""Blocking checks on the ingest assets: the bucket identity of spec §5."""

import dagster as dg

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.ingest.partitions import survey_years
from pipelines.defs.resources import Warehouse
from pipelines.lib.harmonise import BUCKETS

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
    """Every raw row of the loaded delivery is in exactly one known bucket, and none is missing."""
    year = int(context.partition_key)
    with warehouse.connect(read_only=False) as con:
        received = con.execute(
            "select rows_received, file_name from raw.deliveries where survey_year = ? and status = 'loaded'",
            [year],
        ).fetchone()
        per_bucket = dict(
            con.execute(
                "select bucket, count(*) from raw.responses where survey_year = ? group by bucket", [year]
            ).fetchall()
        )
    unknown = sorted(set(per_bucket) - set(BUCKETS))
    total = sum(per_bucket.values())
    expected = received[0] if received else None
    passed = received is not None and not unknown and total == expected
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{received[1] if received else 'no loaded delivery'}: received {expected}, "
            f"buckets sum to {total}" + (f", unknown buckets {unknown}" if unknown else "")
        ),
        metadata={"received": expected or 0, **{b: per_bucket.get(b, 0) for b in BUCKETS}},
    )
