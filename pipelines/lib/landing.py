"""The landing folder of §4: which delivery files are there, for which survey year, and their checksums."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

DELIVERY_NAME = re.compile(r"^ssm_survey_(?P<year>\d{4})[^/]*\.(?:csv|xlsx)$", re.IGNORECASE)


@dataclass(frozen=True)
class LandedFile:
    """A file in landing/ whose name follows the delivery pattern."""

    path: Path
    survey_year: int
    modified_at: float


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks so a large file costs no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landed_files(landing_dir: Path) -> list[LandedFile]:
    """Every delivery file in landing/, oldest first (by modification time, then name)."""
    if not landing_dir.is_dir():
        return []
    files = []
    for path in landing_dir.iterdir():
        match = DELIVERY_NAME.match(path.name)
        if match and path.is_file():
            files.append(LandedFile(path, int(match["year"]), path.stat().st_mtime))
    return sorted(files, key=lambda f: (f.modified_at, f.path.name))


def newest_per_year(landing_dir: Path) -> dict[int, LandedFile]:
    """The file that counts for each survey year: the latest to arrive supersedes earlier ones (§4)."""
    newest: dict[int, LandedFile] = {}
    for landed in landed_files(landing_dir):
        newest[landed.survey_year] = landed
    return dict(sorted(newest.items()))
