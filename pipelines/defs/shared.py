"""What every asset group shares: the survey-year partitions, the warehouse pool and per-year metadata."""

import dagster as dg

# The one partitioning of the pipeline: the survey year (the graduation year of the class). Dynamic,
# because years exist when their file arrives: the landing sensor and `ssm run` add a year the first
# time a delivery for it appears, so the UI never offers years that have no data. The per-year assets
# (the delivery, the responses, the report) are partitioned; the dbt models are one build over all
# years, told which years changed through their run configuration (defs/transform/assets.py).
survey_years = dg.DynamicPartitionsDefinition(name="survey_year")

# Every asset that writes the DuckDB file runs in this pool (limit 1 in dagster.yaml): DuckDB allows
# one writing process per file.
WAREHOUSE_POOL = "warehouse"

# The survey years a run works on, as "2019,2020": on every run the planner makes
# (defs/planning.py), so that the UI's run list, the alerts and `ssm` name them.
SURVEY_YEARS_TAG = "ssm/survey_years"


def run_years(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[int]:
    """The survey years of this run of a per-year asset: one, or several in a run over a range."""
    return sorted(int(key) for key in context.partition_keys)


def per_year_metadata(by_year: dict[int, dict]) -> dict:
    """A year's metadata as it is; a batch's as totals plus a table with a row per year.

    Dagster records one materialisation per year of a batch run, all with the same metadata.
    """
    if len(by_year) == 1:
        return next(iter(by_year.values()))
    rows = [{"survey_year": year, **values} for year, values in sorted(by_year.items())]
    totals = {
        key: sum(r[key] for r in rows)
        for key in ("dagster/row_count",)
        if all(isinstance(r.get(key), int) for r in rows)
    }
    # Paths as text; markdown (a year's first issues) does not fit in a table cell and is left out.
    rows = [
        {
            k: getattr(v, "path", v)
            for k, v in row.items()
            if getattr(v, "path", None) or not isinstance(v, dg.MetadataValue)
        }
        for row in rows
    ]
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in header) + " |" for row in rows]
    return {**totals, "years": dg.MetadataValue.md("\n".join(lines))}
