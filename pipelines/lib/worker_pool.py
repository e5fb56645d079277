"""Run a function over a batch in worker processes and hand the results back in the batch's order.

Used where a batch's items are independent and each costs about a second of Python (drawing a year's
charts), and the caller must still handle them one by one in order (swapping a report folder in).
Reading deliveries no longer needs it (issue 15): DuckDB reads and harmonises them with its own threads.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

Result = TypeVar("Result")

_NO_MORE = object()

# More workers would hold more years' charts in memory than the memory budget of issue 6 allows.
MAX_WORKERS = 4


def available_cores(wanted: int) -> int:
    """Workers for `wanted` items: one per core this process may use, at most MAX_WORKERS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(wanted, cores, MAX_WORKERS))


def starmap_in_order(
    function: Callable[..., Result], arguments: Iterable[tuple], workers: int
) -> Iterator[Result]:
    """Yield function(*args) for each args in arguments, in order; an exception is raised in its turn.

    With workers <= 0 the items are handled here, one after the other. Otherwise `function` runs in a
    pool of that many processes. It must be a module-level function: a worker imports its module
    (with what that imports) and the program's main module, nothing else; arguments and results must
    pickle. At most one item per worker runs ahead of the one the caller is handling, so the memory
    held stays a few results whatever the batch's size. When the caller stops early, the items not
    yet started are cancelled and the pool waits only for those already running.
    """
    if workers <= 0:
        for args in arguments:
            yield function(*args)
        return
    # spawn, not fork: the calling process (Dagster, DuckDB) has threads, which fork does not copy safely.
    context = multiprocessing.get_context("spawn")
    queue = iter(arguments)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[Result]] = deque()
        try:
            for args in queue:
                pending.append(pool.submit(function, *args))
                if len(pending) > workers:
                    break
            while pending:
                result = pending.popleft().result()
                following = next(queue, _NO_MORE)
                if following is not _NO_MORE:
                    pending.append(pool.submit(function, *following))
                yield result
        finally:
            for future in pending:
                future.cancel()
