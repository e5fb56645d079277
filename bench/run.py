"""`make bench`: the benchmark of issue 6. Every figure is reported as a ratio measured in the same run.

    .venv/bin/python bench/run.py [--scale typical|consortium|all] [--skip A,C] [--repeats 3]

Generates synthetic v2 deliveries with pipelines.generators.synthetic into bench/work/ (git-ignored) at two
scales, typical (10 survey years of 200 rows) and consortium (20 years of 50,000 rows, 1,000,000 rows),
and runs each scenario as a subprocess, measuring its wall time and the peak RSS of its whole process
tree (psutil, every 50 ms, RSS summed over the process and all its descendants):

  A   `ssm run` from an empty data folder (full build)                          both scales
  B   the limit: bench/limit.sql, one DuckDB script on the same CSV files       both scales
  C   the peer: bench/peer_pandas.py, the analyst's pandas + scipy script       both scales
  D   `ssm run` adding one new year of 200 rows to a warehouse of 10 and of 40  typical years
      years (the warehouses are built first, untimed)
  E   `ssm run` when nothing is new, against E0: importing the code location    both scales
      and finding nothing to do (what the target allows)

A, D and E use the real `ssm` command (.venv/bin/ssm) with SSM_DATA_DIR in bench/work and a bench salt.
Stages come from the runs themselves: Dagster's step timings for A/D/E (ingest, dbt, report; dbt's
per-node timings from its run_results.json), the `-- stage:` sections of B and the stages of C.

Prints a table (ratios, targets, pass/fail) and writes bench/results.json and bench/results.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from pipelines.generators.synthetic import write_synthetic_deliveries  # noqa: E402

VENV_BIN = Path(sys.executable).parent
SSM = VENV_BIN / "ssm"
SALT = "ssm-benchmark-salt-not-for-real-data"
SEED = 6
SAMPLE_SECONDS = 0.05
MiB = 1024 * 1024


@dataclass(frozen=True)
class Scale:
    name: str
    years: list[int]
    rows_per_year: int
    # Write the years' class sizes into reference/class_sizes.csv. A consortium year of 50,000 rows has
    # a class of 61,000-83,000, within the pipeline's MAX_CLASS_SIZE (100,000; before issue 15 one size
    # out of bounds failed every year's load, so the consortium ran without class sizes).
    class_sizes: bool


SCALES = {
    "typical": Scale("typical", list(range(2020, 2030)), 200, True),
    "consortium": Scale("consortium", list(range(2010, 2030)), 50_000, True),
}
D_YEARS = {10: list(range(2020, 2030)), 40: list(range(1990, 2030))}
D_NEW_YEAR = 2030
D_ROWS = 200

MiB_PER_GB = 1024.0


@dataclass(frozen=True)
class Target:
    """One target of issue 15: numerator / denominator (wall times) at or under `limit`, or, with no
    denominator, the numerator's peak RSS (MB) at or under `limit`."""

    scale: str
    name: str
    numerator: str
    denominator: str | None
    limit: float
    what: str


# Issue 15's targets, each at the scale the issue sets it for (E0 = importing the code location).
TARGETS = [
    Target("consortium", "A/B", "A", "B", 8.0, "the pipeline's wall time over the limit (DuckDB SQL)"),
    Target("consortium", "A/C", "A", "C", 1.0, "the pipeline's wall time over the peer (pandas + scipy)"),
    Target("consortium", "peak RSS of A", "A", None, 1.0 * MiB_PER_GB, "A's whole process tree, 1 GB"),
    Target(
        "typical", "D10/E0", "D10", "E0", 3.0, "one new year on 10 years over importing the code location"
    ),
    Target("typical", "E/E0", "E", "E0", 0.25, "`ssm run` with nothing new over importing the code location"),
    Target("typical", "D40/D10", "D40", "D10", 1.2, "one new year on 40 years over one on 10 years"),
]


# --------------------------------------------------------------------------------------------------
# Measuring one subprocess tree
# --------------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    scenario: str
    scale: str
    command: list[str]
    wall_s: float
    peak_rss_mb: float
    exit_code: int | None
    started_at: float
    ended_at: float
    stopped: str | None = None  # why the benchmark stopped it (timeout, memory), if it did
    stages: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    samples: list[tuple[float, float]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.stopped is None


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            total += member.memory_info().rss
    return total


def measure(
    scenario: str,
    scale: str,
    command: list[str],
    env: dict[str, str],
    log_dir: Path,
    timeout_s: float | None = None,
    max_rss_mb: float | None = None,
) -> Measurement:
    """Run a command, sampling the RSS of its process tree every 50 ms; return wall time and peak."""
    log_dir.mkdir(parents=True, exist_ok=True)
    samples: list[tuple[float, float]] = []
    stopped: list[str] = []
    with (log_dir / f"{scenario}.out").open("w") as out, (log_dir / f"{scenario}.err").open("w") as err:
        started = time.time()
        t0 = time.perf_counter()
        process = psutil.Popen(command, env=env, stdout=out, stderr=err, cwd=ROOT)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss = _tree_rss(process) / MiB
                now = time.time()
                samples.append((now, rss))
                if max_rss_mb and rss > max_rss_mb and not stopped:
                    stopped.append(f"peak RSS above {max_rss_mb:.0f} MB")
                    _kill_tree(process)
                if timeout_s and now - started > timeout_s and not stopped:
                    stopped.append(f"still running after {timeout_s:.0f} s")
                    _kill_tree(process)
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        exit_code = process.wait()
        wall = time.perf_counter() - t0
        ended = time.time()
        done.set()
        sampler.join()
    peak = max((rss for _, rss in samples), default=0.0)
    return Measurement(
        scenario, scale, [str(c) for c in command], wall, peak, exit_code, started, ended,
        stopped[0] if stopped else None, samples=samples,
    )  # fmt: skip


def _kill_tree(process: psutil.Popen) -> None:
    """Stop the benchmark's own subprocess and its descendants (only ever the tree it started)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.kill()


def peak_between(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    values = [rss for t, rss in samples if start <= t <= end]
    return max(values) if values else None


# --------------------------------------------------------------------------------------------------
# Stages of the pipeline runs, from the Dagster instance and dbt's run_results.json
# --------------------------------------------------------------------------------------------------

# Dagster step keys -> stage: the ingest assets and their check, the dbt build, publishing the marts
# for readers (issue 17), the report; the rest are the checks on the marts.
STEP_STAGE = (
    ("raw__", "ingest"),
    ("responses", "ingest"),
    ("ssm_dbt_models", "dbt build"),
    ("published_marts", "publish"),
    ("report__", "report"),
)


def pipeline_stages(data_dir: Path, m: Measurement) -> tuple[list[dict], dict]:
    """Stages of an `ssm` command from the runs it made: before the first run (imports, finding new
    files), ingest/dbt/report steps, checks, Dagster's own work between steps, and after the last run."""
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster_home")
    from dagster import DagsterInstance, RunsFilter

    with DagsterInstance.get() as instance:
        records = [
            r
            for r in instance.get_run_records(
                filters=RunsFilter(created_after=datetime.fromtimestamp(m.started_at - 1, UTC))
            )
            if r.start_time and r.end_time
        ]
        records.sort(key=lambda r: r.start_time)
        windows: dict[str, list[tuple[float, float]]] = {}
        runs_total = 0.0
        steps_total = 0.0
        dbt_runs = []
        for record in records:
            run = record.dagster_run
            runs_total += record.end_time - record.start_time
            for step in instance.get_run_step_stats(run.run_id):
                if not (step.start_time and step.end_time):
                    continue
                stage = next(
                    (s for prefix, s in STEP_STAGE if step.step_key.startswith(prefix)), "marts checks"
                )
                windows.setdefault(stage, []).append((step.start_time, step.end_time))
                steps_total += step.end_time - step.start_time
                if step.step_key == "ssm_dbt_models":
                    dbt_runs.append(run.run_id)
    stages = []
    if records:
        stages.append(_stage("start-up (imports, new files)", [(m.started_at, records[0].start_time)], m))
    for name in ("ingest", "dbt build", "publish", "marts checks", "report"):
        if name in windows:
            stages.append(_stage(name, windows[name], m))
    if records:
        stages.append(
            {"stage": "Dagster between steps", "seconds": runs_total - steps_total, "peak_rss_mb": None}
        )
        span = records[-1].end_time - records[0].start_time
        stages.append({"stage": "between runs", "seconds": span - runs_total, "peak_rss_mb": None})
        stages.append(_stage("after the last run", [(records[-1].end_time, m.ended_at)], m))
    details = {"runs": len(records), "dbt": [dbt_nodes(data_dir, run_id) for run_id in dbt_runs]}
    return stages, details


def _stage(name: str, windows: list[tuple[float, float]], m: Measurement) -> dict:
    seconds = sum(end - start for start, end in windows)
    peaks = [p for start, end in windows if (p := peak_between(m.samples, start, end)) is not None]
    return {"stage": name, "seconds": seconds, "peak_rss_mb": max(peaks) if peaks else None}


def dbt_nodes(data_dir: Path, run_id: str) -> dict:
    """dbt's own timing of one build: elapsed, and node time by kind (SQL/Python models, tests, seeds).

    The dbt target folder is the data folder's (pipelines/defs/transform/assets.py), kept from build to
    build: its run_results.json is the last build's, which is this run's when it is the last dbt run.
    """
    target = data_dir / "dbt" / "target" / "run_results.json"
    if not target.exists():
        return {"run_id": run_id}
    results = json.loads(target.read_text())
    kinds: dict[str, float] = {}
    slowest = []
    for node in results["results"]:
        unique_id = node["unique_id"]
        kind = unique_id.split(".")[0]
        if kind == "model":
            kind = "python model" if unique_id.split(".")[-1] in PYTHON_MODELS else "sql model"
        kinds[kind] = kinds.get(kind, 0.0) + node["execution_time"]
        slowest.append((node["execution_time"], unique_id))
    slowest.sort(reverse=True)
    return {
        "run_id": run_id,
        "dbt_elapsed_s": results["elapsed_time"],
        "node_seconds_by_kind": kinds,
        "slowest_nodes": [{"node": n, "seconds": s} for s, n in slowest[:8]],
    }


PYTHON_MODELS = {p.stem for p in (ROOT / "dbt_project" / "models").rglob("*.py")}


def script_stages(path: Path, m: Measurement) -> list[dict]:
    """Stages written by bench/limit.py or bench/peer_pandas.py, plus start-up before the first one."""
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    stages = [_stage("start-up (imports)", [(m.started_at, rows[0]["start"])], m)] if rows else []
    stages += [_stage(r["stage"], [(r["start"], r["end"])], m) for r in rows]
    if rows:
        stages.append(_stage("exit", [(rows[-1]["end"], m.ended_at)], m))
    return stages


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------


def ssm_env(data_dir: Path) -> dict[str, str]:
    """The environment of an `ssm` command: the bench data folder and salt, and no e-mail settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSM_", "DAGSTER_"))}
    env.update({"SSM_DATA_DIR": str(data_dir), "SSM_RESPONSE_SALT": SALT, "PYTHONUNBUFFERED": "1"})
    return env


def fresh_copy(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for part in ("landing", "reference"):
        shutil.copytree(source / part, target / part)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work
        self.skip = {s.strip().upper() for s in args.skip.split(",") if s.strip()}
        self.results: list[Measurement] = []
        self.notes: list[str] = []
        self.generation: dict[str, dict] = {}
        self.equivalence: dict | None = None

    # -- helpers ------------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)

    def run(self, scenario: str, scale: str, command: list, env: dict, **limits) -> Measurement:
        self.log(f"{scale} {scenario}: {' '.join(str(c) for c in command[-3:])}")
        m = measure(scenario, scale, command, env, self.work / scale / "logs", **limits)
        status = "ok" if m.ok else f"FAILED (exit {m.exit_code}{', ' + m.stopped if m.stopped else ''})"
        self.log(f"{scale} {scenario}: {m.wall_s:.1f} s, peak {m.peak_rss_mb:.0f} MB, {status}")
        return m

    def repeated(self, scale: str, times: int, once) -> Measurement:
        """Run a scenario `times` times (a fresh state each time); keep the run with the median wall
        time, and the others' wall times in its details."""
        runs = [once(i) for i in range(times)]
        ok = [r for r in runs if r.ok] or runs
        ok.sort(key=lambda r: r.wall_s)
        chosen = ok[(len(ok) - 1) // 2]
        if times > 1:
            chosen.details["repeats_wall_s"] = [round(r.wall_s, 3) for r in runs]
            chosen.details["repeats_peak_rss_mb"] = [round(r.peak_rss_mb, 1) for r in runs]
        return chosen

    def generate(self, scale: Scale) -> Path:
        source = self.work / scale.name / "source"
        stamp = source / ".generated"
        key = json.dumps(
            [scale.years, scale.rows_per_year, SEED, scale.class_sizes, _code_key(["pipelines/lib"])]
        )
        if stamp.exists() and stamp.read_text() == key:
            self.log(f"{scale.name}: deliveries already generated in {source}")
            return source
        shutil.rmtree(source, ignore_errors=True)
        start = time.perf_counter()
        write_synthetic_deliveries(
            source, scale.years, scale.rows_per_year, SEED, class_sizes=scale.class_sizes
        )
        seconds = time.perf_counter() - start
        rows = len(scale.years) * scale.rows_per_year
        size = sum(p.stat().st_size for p in (source / "landing").iterdir())
        self.generation[scale.name] = {"rows": rows, "seconds": round(seconds, 2), "bytes": size}
        self.log(f"{scale.name}: generated {rows:,} rows ({size / MiB:.0f} MB) in {seconds:.1f} s")
        stamp.write_text(key)
        return source

    # -- scenarios ----------------------------------------------------------------------------------

    def scale(self, scale: Scale) -> None:
        source = self.generate(scale)
        base = self.work / scale.name
        times = 1 if scale.name == "consortium" else self.args.repeats
        python = str(VENV_BIN / "python")
        if "B" not in self.skip:

            def limit(i: int) -> Measurement:
                stages = base / "B.stages.json"
                stages.unlink(missing_ok=True)
                cmd = [python, BENCH / "limit.py", source, base / "B" / "limit.duckdb", "--stages", stages]
                (base / "B").mkdir(parents=True, exist_ok=True)
                m = self.run("B", scale.name, cmd, ssm_env(source))
                m.stages = script_stages(stages, m)
                return m

            self.results.append(self.repeated(scale.name, times, limit))
        if "C" not in self.skip:

            def peer(i: int) -> Measurement:
                stages = base / "C.stages.json"
                stages.unlink(missing_ok=True)
                cmd = [python, BENCH / "peer_pandas.py", source, base / "C", "--stages", stages]
                m = self.run("C", scale.name, cmd, ssm_env(source))
                m.stages = script_stages(stages, m)
                return m

            self.results.append(self.repeated(scale.name, times, peer))
        a_dir = base / "A"
        if "A" not in self.skip:
            fresh_copy(source, a_dir)
            m = self.run(
                "A", scale.name, [SSM, "run"], ssm_env(a_dir),
                timeout_s=self.args.timeout, max_rss_mb=self.args.max_rss_gb * 1024,
            )  # fmt: skip
            m.stages, m.details = pipeline_stages(a_dir, m)
            self.results.append(m)
            if not m.ok:
                self.notes.append(f"{scale.name} A did not finish: {m.stopped or f'exit {m.exit_code}'}")
            if "CHECK" not in self.skip and m.ok and {"B", "C"} - self.skip and scale.name == "typical":
                self.check(scale, a_dir, base, [s for s in ("B", "C") if s not in self.skip])
        if "E" not in self.skip and (a_dir / "warehouse.duckdb").exists():
            e0_code = (
                "from pipelines.definitions import defs\n"
                "from pipelines.paths import DataFolder\n"
                "from pipelines.pending import pending_work\n"
                "assert not pending_work(DataFolder.from_environment()), 'something is new'\n"
            )
            self.results.append(
                self.repeated(
                    scale.name,
                    times,
                    lambda i: self.run("E0", scale.name, [python, "-c", e0_code], ssm_env(a_dir)),
                )
            )

            def nothing_new(i: int) -> Measurement:
                m = self.run("E", scale.name, [SSM, "run"], ssm_env(a_dir))
                out = (self.work / scale.name / "logs" / "E.out").read_text()
                m.details["said"] = out.strip().splitlines()[-1:] if out.strip() else []
                return m

            self.results.append(self.repeated(scale.name, times, nothing_new))
        if "D" not in self.skip and scale.name == "typical":
            for years in (10, 40):
                self.results.append(self.add_one_year(years))

    def add_one_year(self, n_years: int) -> Measurement:
        """D: one new year of 200 rows into a warehouse of n_years years (built untimed, then restored
        from a snapshot before every timed run)."""
        base = self.work / "typical" / f"D{n_years}"
        snapshot = self.work / "typical" / f"D{n_years}.snapshot"
        key = json.dumps([D_YEARS[n_years], D_ROWS, SEED, _code_key(["pipelines", "dbt_project", "schemas"])])
        stamp = snapshot / ".built"
        if not (self.args.reuse and stamp.exists() and stamp.read_text() == key):
            shutil.rmtree(base, ignore_errors=True)
            shutil.rmtree(snapshot, ignore_errors=True)
            write_synthetic_deliveries(base, D_YEARS[n_years], D_ROWS, SEED)
            build = self.run(f"D{n_years}-build", "typical", [SSM, "run"], ssm_env(base))
            if not build.ok:
                self.notes.append(
                    f"D{n_years}: building the {n_years}-year warehouse failed (exit {build.exit_code})"
                )
            shutil.copytree(base, snapshot, symlinks=True)
            stamp.write_text(key)
            self.generation[f"D{n_years} base build"] = {"seconds": round(build.wall_s, 1), "untimed": True}

        def once(i: int) -> Measurement:
            shutil.rmtree(base, ignore_errors=True)
            shutil.copytree(snapshot, base, symlinks=True)
            (base / ".built").unlink(missing_ok=True)
            write_synthetic_deliveries(base, [D_NEW_YEAR], D_ROWS, SEED)
            m = self.run(f"D{n_years}", "typical", [SSM, "run"], ssm_env(base))
            m.stages, m.details = pipeline_stages(base, m)
            return m

        return self.repeated("typical", self.args.repeats, once)

    def check(self, scale: Scale, a_dir: Path, base: Path, which: list[str]) -> None:
        """Are B's and C's tables the pipeline's? (bench/check_equivalence.py, at the typical scale.)"""
        cmd = [str(VENV_BIN / "python"), str(BENCH / "check_equivalence.py"), "--pipeline", str(a_dir)]
        if "B" in which:
            cmd += ["--limit", str(base / "B" / "limit.duckdb")]
        if "C" in which:
            cmd += ["--peer", str(base / "C")]
        cmd += ["--salt", SALT]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        lines = result.stdout.strip().splitlines()
        self.equivalence = {"scale": scale.name, "same": result.returncode == 0, "lines": lines}
        self.log(
            f"equivalence B/C vs pipeline at {scale.name} scale: {'same' if result.returncode == 0 else 'DIFFERENT'}"
        )
        for line in lines:
            if "DIFFERENT" in line:
                self.log("  " + line)


def _code_key(folders: list[str]) -> str:
    """A fingerprint of the code that a cached warehouse or data set was made with."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*")):
            if (
                path.is_file()
                and path.suffix in {".py", ".sql", ".yml", ".yaml", ".csv"}
                and "target" not in path.parts
            ):
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------

NAMES = {
    "A": "A  ssm run, full build",
    "B": "B  limit: DuckDB SQL",
    "C": "C  peer: pandas + scipy",
    "D10": "D  ssm run, +1 year to 10",
    "D40": "D  ssm run, +1 year to 40",
    "E": "E  ssm run, nothing new",
    "E0": "E0 import code location",
}


def machine() -> dict:
    model = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in (
        "dagster",
        "dagster-dbt",
        "dbt-core",
        "dbt-duckdb",
        "duckdb",
        "pandas",
        "pandera",
        "numpy",
        "scipy",
        "psutil",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    git = {}
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        git["commit"] = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
        status = subprocess.check_output(["git", "status", "--porcelain"], cwd=ROOT, text=True)
        git["uncommitted_changes"] = bool(status.strip())
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git": git,
    }


def by_key(results: list[Measurement]) -> dict[tuple[str, str], Measurement]:
    return {(m.scale, m.scenario): m for m in results}


def target_rows(results: list[Measurement]) -> list[dict]:
    """Each target of issue 15 with what was measured and its verdict: pass, FAIL, or not measured
    (a scenario skipped or failed, so the figure would mean nothing)."""
    found = by_key(results)
    rows = []
    for target in TARGETS:
        row = {"scale": target.scale, "target": target.name, "limit": target.limit, "what": target.what,
               "measured": None, "passed": None}  # fmt: skip
        num = found.get((target.scale, target.numerator))
        den = found.get((target.scale, target.denominator)) if target.denominator else None
        missing = [
            name
            for name, m in ((target.numerator, num), (target.denominator, den))
            if name and (m is None or not m.ok)
        ]
        if not any(m.scale == target.scale for m in results):
            row["verdict"] = f"not measured (the {target.scale} scale was not run)"
        elif missing:
            row["verdict"] = "not measured: " + ", ".join(
                f"{name} {'failed' if found.get((target.scale, name)) else 'not run'}" for name in missing
            )
        else:
            row["measured"] = num.peak_rss_mb if den is None else num.wall_s / den.wall_s
            row["passed"] = row["measured"] <= target.limit
            row["verdict"] = "pass" if row["passed"] else "FAIL"
        rows.append(row)
    return rows


def _target_figure(value: float | None, target_name: str, limit: bool = False) -> str:
    if value is None:
        return "n/a"
    if target_name.startswith("peak RSS"):
        return f"{value:.0f} MB"
    return f"{value:g}" if limit else f"{value:.2f}"


def tables(results: list[Measurement], equivalence: dict | None) -> str:
    found = by_key(results)
    out = []
    for scale in ("consortium", "typical"):
        rows = [m for m in results if m.scale == scale]
        if not rows:
            continue
        b = found.get((scale, "B"))
        spec = SCALES[scale]
        out.append(
            f"\n### {scale}: {len(spec.years)} years x {spec.rows_per_year:,} rows"
            + (" (D: 10 and 40 years of 200 rows, + 1 year of 200)" if scale == "typical" else "")
        )
        out.append("")
        out.append("| scenario | wall s | x B | peak RSS MB | x B | status |")
        out.append("|---|---:|---:|---:|---:|---|")
        order = ["A", "B", "C", "D10", "D40", "E", "E0"]
        for m in sorted(rows, key=lambda m: order.index(m.scenario) if m.scenario in order else 99):
            wall_ratio = f"{m.wall_s / b.wall_s:.1f}" if b and b.wall_s else ""
            peak_ratio = f"{m.peak_rss_mb / b.peak_rss_mb:.1f}" if b and b.peak_rss_mb else ""
            status = "ok" if m.ok else f"exit {m.exit_code}" + (f", {m.stopped}" if m.stopped else "")
            repeats = m.details.get("repeats_wall_s")
            if repeats:
                status += f" (median of {len(repeats)})"
            out.append(
                f"| {NAMES.get(m.scenario, m.scenario)} | {m.wall_s:.1f} | {wall_ratio} | {m.peak_rss_mb:.0f} | {peak_ratio} | {status} |"
            )
    out.append("\n### Targets (issue 15)\n")
    out.append("| scale | target | measured | limit | verdict |")
    out.append("|---|---|---:|---:|---|")
    for row in target_rows(results):
        measured = _target_figure(row["measured"], row["target"])
        limit = _target_figure(row["limit"], row["target"], limit=True)
        out.append(f"| {row['scale']} | {row['target']} | {measured} | <= {limit} | {row['verdict']} |")
    out.append("\n### Stages\n")
    for m in results:
        if not m.stages:
            continue
        out.append(f"{m.scale} {NAMES.get(m.scenario, m.scenario)} ({m.wall_s:.1f} s):")
        for s in m.stages:
            peak = f", peak {s['peak_rss_mb']:.0f} MB" if s.get("peak_rss_mb") else ""
            share = f" ({100 * s['seconds'] / m.wall_s:.0f}%)" if m.wall_s else ""
            out.append(f"  - {s['stage']}: {s['seconds']:.1f} s{share}{peak}")
        for dbt in m.details.get("dbt", []):
            if "dbt_elapsed_s" in dbt:
                kinds = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(dbt["node_seconds_by_kind"].items()))
                out.append(f"  - inside dbt: elapsed {dbt['dbt_elapsed_s']:.1f} s; {kinds}")
                top = ", ".join(
                    f"{n['node'].split('.')[-1]} {n['seconds']:.1f} s" for n in dbt["slowest_nodes"][:4]
                )
                out.append(f"    slowest: {top}")
    if equivalence:
        out.append(
            f"\nB and C against the pipeline's marts at the {equivalence['scale']} scale: "
            + ("every table the same (counts exactly, figures to 1e-9, C's p-values to 1e-6)." if equivalence["same"]
               else "DIFFERENT, see results.json.")
        )  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["typical", "consortium", "all"], default="all")
    parser.add_argument(
        "--skip", default="", help="scenarios to leave out, e.g. A,C (also CHECK: the equivalence check)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per scenario at the typical scale (median kept)"
    )
    parser.add_argument("--work", type=Path, default=BENCH / "work")
    parser.add_argument("--timeout", type=float, default=3600.0, help="stop A after this many seconds")
    parser.add_argument(
        "--max-rss-gb", type=float, default=12.0, help="stop A when its tree uses more memory"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="reuse D's 10/40-year warehouses when the code is unchanged"
    )
    parser.add_argument("--results", type=Path, default=BENCH / "results.json")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)

    bench = Bench(args)
    started = time.time()
    info = machine()
    scales = ["typical", "consortium"] if args.scale == "all" else [args.scale]
    for name in scales:
        bench.scale(SCALES[name])
    text = tables(bench.results, bench.equivalence)
    print(text)
    report = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bench_seconds": round(time.time() - started, 1),
        "machine": info,
        "parameters": {
            "scales": {
                k: asdict(v) | {"rows": len(v.years) * v.rows_per_year}
                for k, v in SCALES.items()
                if k in scales
            },
            "d": {
                "years": {str(k): [v[0], v[-1]] for k, v in D_YEARS.items()},
                "new_year": D_NEW_YEAR,
                "rows": D_ROWS,
            },
            "seed": SEED,
            "repeats_typical": args.repeats,
            "sample_seconds": SAMPLE_SECONDS,
            "rss": "sum of RSS over the process and all its descendants (shared pages counted once per process)",
            "skip": sorted(bench.skip),
        },
        "generation": bench.generation,
        "results": [
            {k: v for k, v in asdict(m).items() if k != "samples"} | {"ok": m.ok} for m in bench.results
        ],
        "targets": target_rows(bench.results),
        "equivalence": bench.equivalence,
        "notes": bench.notes,
    }
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.results.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    args.results.with_suffix(".md").write_text(
        f"Benchmark of {report['created_at']} on {info['cpu_count']} x {info['cpu_model']}, "
        f"{info['ram_gb']} GB RAM, Python {info['python']} (`make bench`; figures in bench/results.json).\n"
        + text
        + "\n",
        encoding="utf-8",
    )
    print(f"\nWrote {args.results} and {args.results.with_suffix('.md')}")
    return 0 if all(m.ok for m in bench.results) else 1


if __name__ == "__main__":
    sys.exit(main())
