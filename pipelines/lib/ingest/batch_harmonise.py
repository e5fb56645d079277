"""Read and harmonise a batch of deliveries, one after the other, on the warehouse's connection.

Each delivery is read into temporary DuckDB tables on the connection that then writes it, and harmonised
there (pipelines/lib/ingest/readers.py, harmonise.py): DuckDB reads and decides with its own threads, and the
rows go into raw.responses without becoming Python objects. (Until issue 15 the pandas reading of a large
batch ran in a pool of worker processes; a consortium year now takes a fraction of a worker's start-up.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.harmonise import HarmonisedDelivery, harmonise
from pipelines.lib.ingest.readers import RawTable, read_delivery


@dataclass(frozen=True)
class DeliveryJob:
    """One year's current delivery: its SHA-256, its archived copy, and the landing name that messages use."""

    survey_year: int
    delivery_sha256: str
    path: Path
    file_name: str


@dataclass(frozen=True)
class HarmonisedJob:
    """A delivery read and harmonised, with the count of data rows it arrived with. Its rows are in
    temporary tables on the connection it was read with until ``close()``."""

    job: DeliveryJob
    rows_received: int
    result: HarmonisedDelivery
    table: RawTable

    def close(self) -> None:
        """Drop the delivery's temporary tables."""
        self.result.close()
        self.table.close()


def read_and_harmonise(
    job: DeliveryJob, salt: str, con: duckdb.DuckDBPyConnection | None = None
) -> HarmonisedJob:
    """Read one archived delivery and harmonise it (spec §4-§6), on `con` (a private in-memory DuckDB
    connection when None).

    Raises:
        DeliveryError: the archived copy is missing, or the file is refused.
    """
    if not job.path.exists():
        raise DeliveryError(
            job.file_name, f"is missing from the archive ({job.path})", "Put it in landing/ again."
        )
    table = read_delivery(job.path, name=job.file_name, con=con)
    try:
        result = harmonise(table, job.survey_year, salt)
    except BaseException:
        table.close()
        raise
    return HarmonisedJob(job=job, rows_received=table.row_count, result=result, table=table)


def harmonised_in_order(
    jobs: Sequence[DeliveryJob], salt: str, con: duckdb.DuckDBPyConnection | None = None
) -> Iterator[HarmonisedJob]:
    """Yield each job read and harmonised, in the order given; the first refusal is raised in its turn.

    A job is read when the caller asks for it, after the caller has written (and closed) the one before,
    so one delivery at a time is held.
    """
    for job in jobs:
        yield read_and_harmonise(job, salt, con)
