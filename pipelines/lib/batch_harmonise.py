"""Read and harmonise a batch of deliveries, in worker processes when the batch is large enough.

Reading and harmonising a delivery is pure Python and pandas (about 0.7 s for 50,000 rows); writing
it to the warehouse is a fraction of that. So a batch of large deliveries reads and harmonises in a
pool of processes (pipelines/lib/worker_pool.py), one year ahead per worker, while the calling
process writes each year in year order as it comes back. A small batch stays in the calling process:
a worker first imports pandas and pandera (about 3 s), more than a few class-sized files take to read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.errors import DeliveryError
from pipelines.lib.harmonise import HarmonisedDelivery, harmonise
from pipelines.lib.readers import read_delivery
from pipelines.lib.worker_pool import available_cores, starmap_in_order

# Below this many bytes in a batch, starting workers costs more than it saves (bench/PROFILE.md).
PARALLEL_MIN_BYTES = 32 * 2**20


@dataclass(frozen=True)
class DeliveryJob:
    """One year's current delivery: its SHA-256, its archived copy, and the landing name that messages use."""

    survey_year: int
    delivery_sha256: str
    path: Path
    file_name: str


@dataclass(frozen=True)
class HarmonisedJob:
    """A delivery read and harmonised, with the count of data rows it arrived with."""

    job: DeliveryJob
    rows_received: int
    result: HarmonisedDelivery


def read_and_harmonise(job: DeliveryJob, salt: str) -> HarmonisedJob:
    """Read one archived delivery and harmonise it (spec §4-§6).

    Raises:
        DeliveryError: the archived copy is missing, or the file is refused.
    """
    if not job.path.exists():
        raise DeliveryError(
            job.file_name, f"is missing from the archive ({job.path})", "Put it in landing/ again."
        )
    table = read_delivery(job.path, name=job.file_name)
    result = harmonise(table, job.survey_year, salt)
    return HarmonisedJob(job=job, rows_received=table.row_count, result=result)


def worker_count(jobs: Sequence[DeliveryJob]) -> int:
    """How many processes should read this batch: 0 (the caller itself) for a small batch."""
    if len(jobs) < 2:
        return 0
    size = sum(job.path.stat().st_size for job in jobs if job.path.exists())
    return available_cores(len(jobs)) if size >= PARALLEL_MIN_BYTES else 0


def harmonised_in_order(jobs: Sequence[DeliveryJob], salt: str, workers: int) -> Iterator[HarmonisedJob]:
    """Yield each job read and harmonised, in the order given; the first refusal is raised in its turn.

    With workers > 0 the jobs run in that many processes, a year ahead per worker
    (pipelines/lib/worker_pool.py); when the caller stops early, the jobs not yet started are cancelled.
    """
    return starmap_in_order(read_and_harmonise, ((job, salt) for job in jobs), workers)
