"""The code version a report was made from: the git commit when there is one, else the package version."""

from __future__ import annotations

import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from pipelines.paths import PROJECT_ROOT


@cache
def code_version() -> str:
    """Short git commit (with '+changes' when the work tree differs), or the installed package version."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return f"{commit}+changes" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        try:
            return f"ssm-pipeline {version('ssm-pipeline')}"
        except PackageNotFoundError:
            return "unknown"
