"""Run bench/limit.sql (B, the limit) on a data folder and time each of its stages.

    python bench/limit.py DATA_DIR OUT.duckdb [--stages STAGES.json]

The script's relative paths (landing/, reference/) are resolved in DATA_DIR; its tables go into
OUT.duckdb (replaced). Stages are the script's `-- stage: NAME` sections, after a first stage
`checksums` that writes the table the script reads the files' SHA-256 from (hashlib, as the pipeline
and C compute it: DuckDB's sha256() is about four times slower). Their wall-clock start and end
(epoch seconds) go to STAGES.json, so the benchmark can attribute its memory samples to them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import time
from pathlib import Path

import duckdb

SCRIPT = Path(__file__).with_name("limit.sql")
STAGE = re.compile(r"^-- stage: (\w+)\s*$", re.MULTILINE)


def stages(script: str) -> list[tuple[str, str]]:
    """The script cut at its `-- stage:` lines, as (name, sql) pairs in order."""
    parts = STAGE.split(script)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def checksums(con: duckdb.DuckDBPyConnection) -> None:
    """Table checksums (delivery, source_sha256) of the landing files, in the current folder."""
    rows = []
    for path in sorted(Path("landing").glob("ssm_survey_*.csv")):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        rows.append((path.name, digest.hexdigest()))
    con.execute("create or replace temp table checksums (delivery varchar, source_sha256 varchar)")
    con.executemany("insert into checksums values (?, ?)", rows)


def run(data_dir: Path, out: Path, script: str | None = None) -> list[dict]:
    out = out.resolve()
    out.unlink(missing_ok=True)
    Path(str(out) + ".wal").unlink(missing_ok=True)
    timings = []
    previous = Path.cwd()
    os.chdir(data_dir)
    try:
        with duckdb.connect(str(out)) as con:
            start = time.time()
            checksums(con)
            timings.append({"stage": "checksums", "start": start, "end": time.time()})
            for name, sql in stages(script or SCRIPT.read_text(encoding="utf-8")):
                start = time.time()
                con.execute(sql)
                timings.append({"stage": name, "start": start, "end": time.time()})
    finally:
        os.chdir(previous)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--stages", type=Path, help="write the stage timings here (JSON)")
    args = parser.parse_args()
    timings = run(args.data_dir, args.out)
    if args.stages:
        args.stages.write_text(json.dumps(timings), encoding="utf-8")
    for t in timings:
        print(f"{t['stage']:<10} {t['end'] - t['start']:8.2f} s")


if __name__ == "__main__":
    main()
