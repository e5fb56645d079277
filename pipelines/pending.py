"""What a data folder needs: the one decision behind the landing sensor, `ssm run` and `ssm status`.

A survey year needs a run when
- its newest file in landing/ is not its loaded delivery: new, changed, or an older delivery put back
  (spec §4: the newest file to arrive counts);
- its delivery is loaded but the marts were not built from it (a build that was killed or failed);
- its report was not made from its loaded delivery (a run stopped before the report was swapped in);
- or the analyst asked for it (`ssm run --year Y`).

A year whose newest file was refused is not run again for the same bytes: the refusal (kept in
raw.deliveries with its message) is reported instead, until a corrected file arrives or the analyst
asks for the year. That is also what lets a batch in which one file is refused go on: asked again
after the failed run, this function no longer lists the refused year, and lists the others.

Everything here reads the landing folder, the warehouse (read-only) and the report folders; it imports
neither Dagster nor dbt, so that `ssm run` with nothing to do answers in well under a second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipelines.lib.ingest.landing import LandedFile, checksums, newest_per_year
from pipelines.lib.warehouse import database as warehouse
from pipelines.lib.warehouse import deliveries
from pipelines.paths import DataFolder

NEW_FILE = "new file {name}"
MARTS_NOT_BUILT = "building again: its delivery is loaded but the marts were not built from it"
REPORT_NOT_MADE = "building again: its report was not made from its loaded delivery"
REQUESTED = "rebuild requested"


@dataclass(frozen=True)
class YearToRun:
    """A survey year that needs a run, and why."""

    survey_year: int
    reason: str
    # The file that counts for the year in landing/ (None: the year runs from its archived delivery).
    landed: LandedFile | None = None
    # The SHA-256 of that file, or of the loaded delivery the year is built again from.
    sha256: str | None = None


@dataclass(frozen=True)
class RefusedYear:
    """A survey year whose newest file was refused; it waits for a corrected file."""

    survey_year: int
    file_name: str
    message: str


@dataclass(frozen=True)
class PendingWork:
    """What the data folder needs: the years to run, oldest first, and the refusals still standing."""

    years: dict[int, YearToRun] = field(default_factory=dict)
    refused: dict[int, RefusedYear] = field(default_factory=dict)
    # Files that changed in the last settle_seconds (probably still being copied): not run yet.
    settling: tuple[LandedFile, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.years)


def report_source(folder: DataFolder, year: int) -> str | None:
    """The SHA-256 of the delivery a year's report was made from (None: no finished report)."""
    try:
        return json.loads(folder.report_provenance(year).read_text(encoding="utf-8")).get("source_sha256")
    except (OSError, ValueError, AttributeError):
        return None


def pending_work(
    folder: DataFolder,
    requested: Iterable[int] = (),
    settle_seconds: float = 0.0,
    now: float | None = None,
    wait_seconds: float | None = None,
) -> PendingWork:
    """Decide which survey years of `folder` need a run (see the module's docstring).

    `requested` years run whatever their state (also a refused one: the analyst asks to try again).
    Files modified less than `settle_seconds` ago are left for later (the sensor waits for a copy to
    finish; `ssm run`, started by the analyst after the copy, does not wait). A warehouse that another
    program writes is waited for up to `wait_seconds` (default SSM_LOCK_WAIT_SECONDS), then
    warehouse.WarehouseBusy names it.
    """
    requested = set(requested)
    now = time.time() if now is None else now
    newest = newest_per_year(folder.landing)
    settling = tuple(
        f for f in newest.values() if settle_seconds > 0 and now - f.modified_at < settle_seconds
    )
    ready = {year: f for year, f in newest.items() if f not in settling}
    shas = checksums(list(ready.values()), folder.landing_checksums)

    on_record, loaded, built = {}, {}, {}
    if folder.warehouse.exists():
        with warehouse.connect(folder.warehouse, read_only=True, wait_seconds=wait_seconds) as con:
            on_record = {d.delivery_sha256: d for d in deliveries.all_deliveries(con)}
            loaded = deliveries.loaded_deliveries(con)
            built = deliveries.marts_sources(con)

    years: dict[int, YearToRun] = {}
    refused: dict[int, RefusedYear] = {}
    for year, landed in ready.items():
        sha256 = shas[landed.path]
        record = on_record.get(sha256)
        if record is not None and record.status == deliveries.LOADED:
            continue
        if record is not None and record.status == deliveries.REFUSED and year not in requested:
            refused[year] = RefusedYear(year, landed.path.name, record.status_message or "refused")
            continue
        years[year] = YearToRun(year, NEW_FILE.format(name=landed.path.name), landed, sha256)
    for year, sha256 in loaded.items():
        if year in years or year in refused:
            continue
        if built.get(year) != sha256:
            years[year] = YearToRun(year, MARTS_NOT_BUILT, sha256=sha256)
        elif report_source(folder, year) != sha256:
            years[year] = YearToRun(year, REPORT_NOT_MADE, sha256=sha256)
    for year in requested - set(years):
        landed = ready.get(year)
        years[year] = YearToRun(year, REQUESTED, landed, shas.get(landed.path) if landed else None)
    return PendingWork(dict(sorted(years.items())), dict(sorted(refused.items())), settling)
