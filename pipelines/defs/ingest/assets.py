"""Ingest assets: reference class sizes, the delivery on record for a year, and its validated responses."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from pipelines.defs.ingest.partitions import survey_years
from pipelines.defs.resources import SurveyConfig, Warehouse
from pipelines.lib.errors import DeliveryError
from pipelines.lib.harmonise import ISSUE_COLUMNS, RESPONSE_COLUMNS, harmonise
from pipelines.lib.landing import newest_per_year, sha256_of
from pipelines.lib.readers import read_delivery

# Every asset that writes the DuckDB file runs in this pool (limit 1 in dagster.yaml): DuckDB allows
# one writing process per file.
WAREHOUSE_POOL = "warehouse"


class ClassSizes(pa.DataFrameModel):
    """reference/class_sizes.csv: one row per survey year, maintained by the analyst."""

    survey_year: int = pa.Field(ge=1990, le=2100, unique=True, description="graduation year of the class")
    class_size: int = pa.Field(gt=0, le=2000, description="students in the graduating class")

    class Config:
        strict = True
        coerce = True


@dg.asset(
    key=["raw", "class_sizes"],
    group_name="ingest",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def class_sizes(
    context: dg.AssetExecutionContext, survey: SurveyConfig, warehouse: Warehouse
) -> dg.MaterializeResult:
    """raw.class_sizes: class size per survey year from reference/class_sizes.csv (one row per year)."""
    path = survey.class_sizes_path
    if path.exists():
        frame = pd.read_csv(path, dtype=str).apply(lambda c: c.str.strip())
        try:
            frame = ClassSizes.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            first = err.failure_cases.iloc[0]
            row = None if pd.isna(first["index"]) else int(first["index"]) + 2  # +1 header, +1 from zero
            raise dg.Failure(
                description=str(
                    DeliveryError(
                        str(path),
                        f"fails check {first['check']} with value {first['failure_case']!r}",
                        "Fix the file: two columns survey_year,class_size, one row per year, whole numbers.",
                        row=row,
                        column=None if pd.isna(first["column"]) else str(first["column"]),
                    )
                ),
                allow_retries=False,
            ) from None
    else:
        context.log.warning(f"{path} does not exist: no year will have a response rate.")
        frame = pd.DataFrame({"survey_year": pd.Series(dtype=int), "class_size": pd.Series(dtype=int)})
    with warehouse.connect() as con:
        con.execute("begin")
        con.execute("delete from raw.class_sizes")
        con.register("class_sizes_frame", frame)
        con.execute("insert into raw.class_sizes select survey_year, class_size from class_sizes_frame")
        con.execute("commit")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "path": str(path),
            "years": sorted(frame["survey_year"].tolist()),
        }
    )


@dg.asset(
    key=["raw", "deliveries"],
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=survey_years,
    pool=WAREHOUSE_POOL,
)
def deliveries(
    context: dg.AssetExecutionContext, survey: SurveyConfig, warehouse: Warehouse
) -> dg.MaterializeResult:
    """raw.deliveries: every file received for a survey year, archived unchanged by SHA-256 (one row per file)."""
    year = int(context.partition_key)
    landed = newest_per_year(survey.landing_dir).get(year)
    with warehouse.connect() as con:
        if landed is None:
            known = con.execute(
                "select file_name, delivery_sha256 from raw.deliveries where survey_year = ? "
                "order by received_at desc limit 1",
                [year],
            ).fetchone()
            if known is None:
                raise dg.Failure(
                    description=(
                        f"No delivery for survey year {year}: {survey.landing_dir} has no file named "
                        f"ssm_survey_{year}*.csv or .xlsx. Put the export there and run again."
                    ),
                    allow_retries=False,
                )
            return dg.MaterializeResult(metadata={"file": known[0], "sha256": known[1], "new": False})
        sha256 = sha256_of(landed.path)
        archive_path = survey.archive_dir / f"{sha256}{landed.path.suffix.lower()}"
        if not archive_path.exists():
            survey.archive_dir.mkdir(parents=True, exist_ok=True)
            partial = archive_path.with_suffix(archive_path.suffix + ".partial")
            shutil.copyfile(landed.path, partial)
            partial.replace(archive_path)  # atomic: the archive never holds half a file
        existing = con.execute(
            "select status from raw.deliveries where delivery_sha256 = ?", [sha256]
        ).fetchone()
        if existing is None:
            con.execute(
                "insert into raw.deliveries (delivery_sha256, survey_year, file_name, archive_path, size_bytes,"
                " received_at, status) values (?, ?, ?, ?, ?, ?, 'received')",
                [
                    sha256,
                    year,
                    landed.path.name,
                    str(archive_path),
                    landed.path.stat().st_size,
                    datetime.now(UTC).replace(tzinfo=None),
                ],
            )
    return dg.MaterializeResult(
        metadata={
            "file": landed.path.name,
            "sha256": sha256,
            "size_bytes": landed.path.stat().st_size,
            "archive": str(archive_path),
            "new": existing is None,
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", "responses"],
            deps=[deliveries],
            description="raw.responses: every data row of the year's current delivery with its §5 bucket; "
            "answers harmonised and de-identified (one row per raw row).",
            kinds={"duckdb", "pandera"},
        ),
        dg.AssetSpec(
            ["raw", "data_quality_issues"],
            deps=[deliveries],
            description="raw.data_quality_issues: one row per bad cell of the year's current delivery.",
            kinds={"duckdb"},
        ),
    ],
    group_name="ingest",
    partitions_def=survey_years,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def responses(context: dg.AssetExecutionContext, survey: SurveyConfig, warehouse: Warehouse):
    """Read, bucket, validate and load the newest delivery of a year, replacing the year in one transaction."""
    year = int(context.partition_key)
    salt = survey.require_salt()
    with warehouse.connect(read_only=False) as con:
        current = con.execute(
            "select delivery_sha256, file_name, archive_path from raw.deliveries where survey_year = ? "
            "order by received_at desc limit 1",
            [year],
        ).fetchone()
    if current is None:
        raise dg.Failure(description=f"No delivery on record for survey year {year}.", allow_retries=False)
    sha256, file_name, archive_path = current
    try:
        if not Path(archive_path).exists():
            raise DeliveryError(
                file_name, f"is missing from the archive ({archive_path})", "Put it in landing/ again."
            )
        table = read_delivery(Path(archive_path), name=file_name)
        result = harmonise(table, year, salt)
    except DeliveryError as err:
        with warehouse.connect() as con:
            con.execute(
                "update raw.deliveries set status = 'refused', status_message = ? where delivery_sha256 = ?",
                [str(err), sha256],
            )
        raise dg.Failure(
            description=f"Delivery refused, warehouse unchanged. {err}", allow_retries=False
        ) from None

    loaded = result.responses.assign(delivery_sha256=sha256)[["delivery_sha256", *RESPONSE_COLUMNS]]
    issues = result.issues.assign(delivery_sha256=sha256, survey_year=year)[
        ["delivery_sha256", "survey_year", *ISSUE_COLUMNS]
    ]
    counts = result.bucket_counts()
    with warehouse.connect() as con:
        con.execute("begin")
        con.execute("delete from raw.responses where survey_year = ?", [year])
        con.execute("delete from raw.data_quality_issues where survey_year = ?", [year])
        con.register("loaded_frame", loaded)
        con.register("issues_frame", issues)
        con.execute("insert into raw.responses by name select * from loaded_frame")
        con.execute("insert into raw.data_quality_issues by name select * from issues_frame")
        con.execute(
            "update raw.deliveries set status = 'superseded' "
            "where survey_year = ? and status = 'loaded' and delivery_sha256 <> ?",
            [year, sha256],
        )
        con.execute(
            "update raw.deliveries set status = 'loaded', status_message = null, instrument_version = ?, "
            "coding = ?, rows_received = ?, loaded_at = ? where delivery_sha256 = ?",
            [
                result.instrument,
                result.coding,
                len(table.rows),
                datetime.now(UTC).replace(tzinfo=None),
                sha256,
            ],
        )
        con.execute("commit")

    rules = result.issues["rule"].value_counts().to_dict()
    context.log.info(f"{file_name}: {len(loaded)} rows, buckets {counts}, {len(issues)} cell issues")
    yield dg.MaterializeResult(
        asset_key=["raw", "responses"],
        metadata={
            "dagster/row_count": len(loaded),
            "file": file_name,
            "sha256": sha256,
            "instrument_version": result.instrument,
            "coding": result.coding,
            **{f"bucket_{name}": n for name, n in counts.items()},
        },
    )
    first_issues = result.issues.head(5).rename(columns={"column_name": "column"})
    yield dg.MaterializeResult(
        asset_key=["raw", "data_quality_issues"],
        metadata={
            "dagster/row_count": len(issues),
            **{f"rule_{r}": int(n) for r, n in rules.items()},
            "first_issues": dg.MetadataValue.md(
                first_issues.to_markdown(index=False) if len(first_issues) else "none"
            ),
        },
    )
