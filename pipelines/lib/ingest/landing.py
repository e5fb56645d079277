"""The landing folder of §4: which delivery files are there, for which survey year, and their checksums."""

from __future__ import annotations

import hashlib
import json
import os
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


def _stat_key(path: Path) -> list[int]:
    """What changes whenever a file's bytes may have: size, modification and change time, inode.

    The change time (ctime) cannot be set by copying tools, so a file rewritten with its old size and
    modification time still gets a new key.
    """
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def checksums(files: list[LandedFile], cache_path: Path) -> dict[Path, str]:
    """SHA-256 of each landed file, re-using the checksum of a file unchanged since it was last read.

    Hashing every delivery on every `ssm run` costs about a second per 300 MB (a consortium's landing
    folder); the cache in `cache_path` (name -> stat key and checksum) makes a run with nothing new
    read no file. It is a cache only: deleted or damaged, every file is hashed again.
    """
    try:
        cached = json.loads(cache_path.read_text(encoding="utf-8"))
        if not isinstance(cached, dict):
            cached = {}
    except (OSError, ValueError):
        cached = {}
    known, result = {}, {}
    for landed in files:
        key = _stat_key(landed.path)
        entry = cached.get(landed.path.name)
        if isinstance(entry, dict) and entry.get("stat") == key and isinstance(entry.get("sha256"), str):
            sha256 = entry["sha256"]
        else:
            sha256 = sha256_of(landed.path)
            if _stat_key(landed.path) != key:  # changed while being read (still being copied): do not keep
                result[landed.path] = sha256
                continue
        known[landed.path.name] = {"stat": key, "sha256": sha256}
        result[landed.path] = sha256
    if known != cached and cache_path.parent.is_dir():
        partial = cache_path.with_name(f"{cache_path.name}.{os.getpid()}.partial")
        try:
            partial.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
            partial.replace(cache_path)  # whole or absent, also with two writers (ssm and the sensor)
        except OSError:
            partial.unlink(missing_ok=True)  # a read-only data folder: hash again next time
    return result
