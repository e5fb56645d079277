"""The data folder's run lock: one `ssm` command at a time works on a data folder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.paths import DataFolder


@contextmanager
def exclusive_run(folder: DataFolder) -> Iterator[None]:
    """Hold the data folder's run lock: a second `ssm` command waits here instead of racing the first.

    The kernel drops the lock when the process dies, so a killed command never leaves it held; and
    while it is held, a Dagster run of this folder's `ssm` that is still "started" belongs to a dead
    process (pipelines/launcher.py takes such runs over).
    """
    folder.ensure()
    with folder.run_lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"Another ssm command is working on {folder.root}; waiting for it to finish ...", flush=True
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(str(os.getpid()))
        handle.flush()
        yield
