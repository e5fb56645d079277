"""The runs that pending work needs: the landing sensor and `ssm run` ask here, and get the same runs.

pipelines/pending.py decides which survey years need a run; this module turns them into Dagster run
requests of survey_year_job:

- one run per range of neighbouring survey-year partitions (usually one run for everything: a new
  year, or a first load of ten years), so that a batch costs one dbt build and one run's bookkeeping;
- the years a run loads are its partitions (the delivery, the responses, the report are per year)
  and, for the one unpartitioned dbt build, its run configuration (the years whose rows it rebuilds);
- a run key from the years' files and states, so that the sensor never requests the same work twice
  (a run that failed is not retried until something changes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import dagster as dg

from pipelines.defs.dagster_internals import partition_range_tags
from pipelines.defs.jobs import survey_year_job
from pipelines.defs.shared import SURVEY_YEARS_TAG, survey_years
from pipelines.pending import PendingWork

DBT_STEP = "ssm_dbt_models"


@dataclass(frozen=True)
class PlannedRuns:
    """The survey-year partitions to add (years seen for the first time) and the runs to request."""

    new_partitions: list[str]
    run_requests: list[dg.RunRequest]


def years_of(request: dg.RunRequest | dg.DagsterRun) -> list[int]:
    """The survey years a planned run works on (its SURVEY_YEARS_TAG)."""
    listed = request.tags.get(SURVEY_YEARS_TAG, "")
    return [int(year) for year in listed.split(",") if year]


def plan_runs(work: PendingWork, partitions_in_order: list[str]) -> PlannedRuns:
    """The runs for `work`, given the survey-year partitions as the instance orders them.

    Dynamic partitions keep the order in which they were added, and a run over a range covers every
    partition from its first to its last key in that order; so the years are cut into ranges of
    neighbours in that order (new years are added in year order after the existing ones).
    """
    new = sorted((str(year) for year in work.years if str(year) not in partitions_in_order), key=int)
    position = {key: index for index, key in enumerate([*partitions_in_order, *new])}
    ranges: list[list[int]] = []
    for year in sorted(work.years, key=lambda y: position[str(y)]):
        if ranges and position[str(year)] == position[str(ranges[-1][-1])] + 1:
            ranges[-1].append(year)
        else:
            ranges.append([year])
    return PlannedRuns(new, [_run_request(years, work) for years in ranges])


def _run_request(years: list[int], work: PendingWork) -> dg.RunRequest:
    tags = {SURVEY_YEARS_TAG: ",".join(str(year) for year in sorted(years))}
    if len(years) > 1:
        tags.update(partition_range_tags(str(years[0]), str(years[-1])))
    return dg.RunRequest(
        run_key=_run_key(years, work),
        job_name=survey_year_job.name,
        partition_key=str(years[0]) if len(years) == 1 else None,
        run_config={"ops": {DBT_STEP: {"config": {"years": sorted(years)}}}},
        tags=tags,
    )


def _run_key(years: list[int], work: PendingWork) -> str:
    """The same key for the same work: each year's file (checksum and arrival) or state."""
    parts = []
    for year in sorted(years):
        item = work.years[year]
        arrival = f"{item.landed.modified_at:.0f}" if item.landed else ""
        parts.append(f"{year}:{item.sha256 or ''}:{arrival}:{item.reason}")
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"survey-years-{min(years)}-{max(years)}-{digest}"


def add_partitions_request(planned: PlannedRuns) -> list[dg.AddDynamicPartitionsRequest]:
    """The sensor's request to add the years seen for the first time (none when there are none)."""
    return [survey_years.build_add_request(planned.new_partitions)] if planned.new_partitions else []
