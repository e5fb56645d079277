"""Profile A (`ssm run`, full build) under py-spy and say where the time goes (bench/PROFILE.md).

    .venv/bin/python bench/profile.py [--years 5] [--rows 50000] [--rate 100]
    .venv/bin/python bench/profile.py --summarise bench/work/profile/A.pyspy.txt

Generates the deliveries into bench/work/profile/, runs `py-spy record --subprocesses` on `ssm run`
(so the dbt subprocess is sampled too) while the benchmark's sampler measures wall time and the peak
RSS of the process tree per stage, and sums py-spy's samples (CPU time, not idle waits) into the
pipeline's stages: reading the CSV, each part of harmonise (pandera included), writing raw to DuckDB,
dbt start-up and parsing, dbt's SQL and Python models and tests, the reports, Dagster itself, imports.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import run as bench  # noqa: E402

from pipelines.generators.synthetic import write_synthetic_deliveries  # noqa: E402

# (category, pattern searched in the stack, leaf first): the first category whose pattern occurs in a
# sample's stack gets the sample. Main process and dbt subprocess are told apart by the process frame.
MAIN_RULES = [
    ("import (main process)", r"_find_and_load"),
    ("ingest: read CSV (readers.read_delivery)", r"read_delivery \("),
    ("ingest: harmonise: cells frame (_cells_frame)", r"_cells_frame \("),
    ("ingest: harmonise: raw shape check (pandera)", r"_check_raw_shape \("),
    ("ingest: harmonise: coding detection", r"_detect_coding \(|_check_values_fit \("),
    ("ingest: harmonise: metadata + buckets", r"_metadata \(|_assign_buckets \(|_check_year \("),
    ("ingest: harmonise: hash ResponseIds", r"hash_response_id \(|<listcomp> \(pipelines/lib/harmonise"),
    ("ingest: harmonise: decode answers", r"_decode_answers \("),
    ("ingest: harmonise: pandera validation", r"_validate \("),
    ("ingest: harmonise: branches", r"_apply_branches \("),
    ("ingest: harmonise: mask free text", r"mask_series \(|mask_contacts \("),
    ("ingest: harmonise: other", r"harmonise \("),
    ("ingest: checksum + archive copy", r"sha256_of \(|copyfile \("),
    ("ingest: write raw to DuckDB", r"responses \(pipelines/defs/ingest/assets.py"),
    ("ingest: other assets and checks", r"pipelines/defs/ingest/"),
    ("dbt: dagster-dbt reading dbt's events", r"dagster_dbt/"),
    ("report: charts (matplotlib)", r"pipelines/lib/report/charts.py"),
    (
        "report: what may be shown (disclosure)",
        r"pipelines/lib/report/disclosure.py|pipelines/lib/report/figures.py",
    ),
    (
        "report: marts -> context",
        r"pipelines/lib/report/(context|this_year|words|chart_data|history|marts).py",
    ),
    ("report: HTML rendering", r"pipelines/lib/report/rendering.py|css_inline"),
    ("report: other", r"pipelines/defs/report/"),
    ("transform checks", r"pipelines/defs/transform/checks.py"),
    ("publish the marts for readers", r"pipelines/lib/warehouse/publish.py"),
    ("pending files (sha256 of landing)", r"pending_work \("),
    ("Dagster: loading definitions", r"pipelines/definitions.py|load_assets_from_modules"),
    ("Dagster: run orchestration, events, storage", r"dagster/"),
    ("ssm: other", r"."),
]
DBT_RULES = [
    ("dbt: imports", r"_find_and_load"),
    # The p-values of the statistics marts: DuckDB functions running scipy in the dbt process.
    ("dbt: p-values (scipy in dbt)", r"pipelines/lib/stats/pvalues.py"),
    ("dbt: parse / manifest / graph", r"dbt/parser/|ManifestLoader|dbt/graph/|partial|load_manifest|msgpack"),
    ("dbt: SQL in DuckDB (models, tests, seeds)", r"duckdb|adapters/"),
    ("dbt: Jinja compile", r"jinja2|dbt/clients/jinja|compilation"),
    ("dbt: other", r"."),
]


WORKERS = "ssm worker processes (reading deliveries, drawing charts)"
PROCESS = re.compile(r'process \d+:"(?P<command>[^"]*)"')


def _process_kind(command: str) -> str:
    if "bin/dbt --version" in command:
        return "dbt --version (dagster-dbt asks once per run)"
    if "bin/dbt " in command:
        return "dbt build subprocess"
    if "multiprocessing.spawn" in command:
        return WORKERS
    # py-spy sometimes reads the root process's command line as empty: that is `ssm run` itself.
    if "bin/ssm" in command or not command.strip():
        return "ssm process"
    return "Dagster helper processes (watch_orphans, resource tracker)"


def summarise(
    raw: Path, rate: float
) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]:
    """CPU seconds and shares by category, and by process, from py-spy's raw (collapsed) output."""
    counts: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    main_rules = [(name, re.compile(p)) for name, p in MAIN_RULES]
    dbt_rules = [(name, re.compile(p)) for name, p in DBT_RULES]
    text = raw.read_text(encoding="utf-8", errors="replace")
    # A sample is "frame;frame;... count"; a process frame's command line may itself hold newlines.
    for match in re.finditer(r"(?P<stack>.*?) (?P<count>\d+)$", text, re.MULTILINE | re.DOTALL):
        stack, count = match["stack"].strip("\n"), int(match["count"])
        # A process frame's command line may hold ";" (a spawned worker's `-c` code) or newlines.
        process_frames = list(PROCESS.finditer(stack))
        kind = _process_kind(process_frames[-1]["command"]) if process_frames else "ssm process"
        processes[kind] += count
        if kind in ("ssm process", WORKERS):
            rules = main_rules
        elif kind == "dbt build subprocess":
            rules = dbt_rules
        else:
            counts[kind] += count
            continue
        inner = stack[process_frames[-1].end() :] if process_frames else stack
        fallback = "dbt: other" if kind == "dbt build subprocess" else "ssm: other"
        counts[next((name for name, pattern in rules if pattern.search(inner)), fallback)] += count
    total = sum(counts.values()) or 1
    by_category = [(name, n / rate, n / total) for name, n in counts.most_common()]
    by_process = [(name, n / rate, n / total) for name, n in processes.most_common()]
    return by_category, by_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "profile")
    parser.add_argument("--summarise", type=Path, help="only summarise this py-spy raw file")
    args = parser.parse_args()
    if args.summarise:
        print_summary(args.summarise, args.rate)
        return

    work = args.work.resolve()
    source, data = work / "source", work / "A"
    years = list(range(2030 - args.years, 2030))
    bench.shutil.rmtree(source, ignore_errors=True)
    write_synthetic_deliveries(source, years, args.rows, bench.SEED, class_sizes=args.rows <= 1000)
    bench.fresh_copy(source, data)
    raw = work / "A.pyspy.txt"
    py_spy = bench.VENV_BIN / "py-spy"
    command = [py_spy, "record", "--subprocesses", "--nonblocking", "--rate", str(int(args.rate)),
               "--format", "raw", "--output", raw, "--", bench.SSM, "run"]  # fmt: skip
    m = bench.measure("A-profiled", "profile", command, bench.ssm_env(data), work / "logs")
    stages, details = bench.pipeline_stages(data, m)
    print(
        f"A under py-spy: {args.years} years x {args.rows:,} rows: {m.wall_s:.1f} s wall, peak {m.peak_rss_mb:.0f} MB, exit {m.exit_code}"
    )
    for s in stages:
        peak = f", peak {s['peak_rss_mb']:.0f} MB" if s.get("peak_rss_mb") else ""
        print(f"  {s['stage']:<32} {s['seconds']:7.1f} s{peak}")
    for dbt in details.get("dbt", []):
        print(f"  dbt: {dbt}")
    print_summary(raw, args.rate)


def print_summary(raw: Path, rate: float) -> None:
    by_category, by_process = summarise(raw, rate)
    print("CPU samples by process (py-spy, active threads only):")
    for name, seconds, share in by_process:
        print(f"  {name:<60} {seconds:8.1f} s  {100 * share:5.1f}%")
    print("CPU samples by category:")
    for name, seconds, share in by_category:
        print(f"  {name:<60} {seconds:8.1f} s  {100 * share:5.1f}%")


if __name__ == "__main__":
    main()
