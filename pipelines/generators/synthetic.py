"""Synthetic survey deliveries at any size, for the benchmark (issue 6: `make bench`).

``write_synthetic_deliveries`` writes one v2 choice-text delivery (spec §3: Qualtrics current CSV,
three header rows, UTF-8, LF; or v3, the same with mentor_prepared and the 7th reason, with
``instrument="v3"``) per survey year into ``<data_dir>/landing`` and the class sizes into
``<data_dir>/reference/class_sizes.csv``. It draws from the same instrument, labels and answer
probabilities as the demo generator (``pipelines.generators.demo``: the header rows, label maps, cohort shares,
agreement probabilities, weights and free texts are imported from there), but a whole column at a time
with numpy instead of one ``Answers`` object per row, so a million rows take seconds, not minutes.

Every stage of the pipeline gets real work: each delivery has previews (status preview/test/spam or a
preview/test distribution channel), unfinished rows truncated along the questionnaire (like the demo's
``_unfinished``), refusals (consent "No" or left empty), earlier submissions of a ResponseId that §5
counts as duplicates (disagreeing with the kept copy on value_mentee, like the demo's
``_earlier_copies``), a few rows without a ResponseId (rejected), cells a validator must flag (an age in
words, an age out of range, an unknown specialty label, answers off the mentor branch), "please specify"
texts, and comments with commas, line breaks, e-mail addresses and phone numbers to mask.

What it does not write: rows with the wrong number of fields (the benchmark's plain-SQL reader would
have to repair them) and v1 or Excel deliveries. The same arguments give byte-identical files; a year's
file depends only on (seed, year, rows_per_year), not on which other years are generated.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.generators.demo import (
    AGE_WEIGHTS,
    AGREE_PROBABILITY,
    CAMPUS_LATITUDE,
    CAMPUS_LONGITUDE,
    COHORT_SHARES,
    FIRST_NAMES,
    HAD_MENTOR_WEIGHTS,
    ITEM_SKIP_CHANCE,
    LAST_NAMES,
    MENTEES_WEIGHTS,
    MENTOR_AGAIN_WEIGHTS,
    MULTILINE_COMMENT,
    NEW_REASON_PROBABILITY,
    OTHER_REASON,
    OTHER_REASON_TEXTS,
    OTHER_SPECIALTY,
    OTHER_SPECIALTY_TEXTS,
    PLAIN_COMMENTS,
    PREPARED_AGREE,
    REASON_PROBABILITY,
    REASONS_OFFERED,
    REFERENCE_YEAR,
    SELF_DESCRIBED_GENDERS,
    SPECIALTIES,
    SPECIALTY_WEIGHTS,
    UNCLASSIFIED_SHARE,
    V2_FORMAT,
    V2_GENDER,
    V2_GENDER_WEIGHTS,
    V2_HAD_MENTOR,
    V2_LIKERT,
    V2_MENTOR_AGAIN,
    V2_QUESTIONS,
    V2_YES_NO,
    V3_FORMAT,
    V3_QUESTIONS,
    VALUE_MENTEE_NON_MENTOR_DRIFT_PER_YEAR,
    WORTHWHILE_AGREE,
)

#: The columns of a v2 delivery, in file order (row 1 of the header).
V2_COLUMNS: list[str] = list(V2_FORMAT.header_rows[0])
COHORTS = np.array(["mentor", "non_mentor", "informal", "unclassified"], dtype=object)
#: The question columns in questionnaire order (what an unfinished response is truncated along).
QUESTION_COLUMNS: list[str] = [tag for tag, _, _ in V2_QUESTIONS]
#: The header rows and question columns of each instrument this generator writes (v2 unless told).
HEADER_ROWS = {"v2": V2_FORMAT.header_rows, "v3": V3_FORMAT.header_rows}
QUESTIONS_OF = {"v2": QUESTION_COLUMNS, "v3": [tag for tag, _, _ in V3_QUESTIONS]}


@dataclass(frozen=True)
class BucketMix:
    """Shares of a delivery's rows that are not respondents (spec §5 buckets), and of bad cells.

    The defaults are a little messier than the demo years, so that each rule has work at every scale.
    """

    preview: float = 0.02
    incomplete: float = 0.04
    no_consent: float = 0.015
    duplicate: float = 0.01
    rejected: float = 0.002  # no ResponseId
    bad_cell: float = 0.005  # of respondents: one cell a validator must flag
    comment: float = 0.10  # of respondents: a plain comment (some with commas)
    contact_comment: float = 0.006  # of respondents: a comment with an e-mail, a phone or line breaks


DEFAULT_MIX = BucketMix()

# Cells a validator must flag (spec §5), with the cohort allowed to carry each ("any" or "non_mentor").
BAD_CELLS: tuple[tuple[str, str, str], ...] = (
    ("age", "twenty six", "any"),  # not_an_integer
    ("age", "7", "any"),  # out_of_range (pandera)
    ("specialty", "Cardiology", "any"),  # unknown_label
    ("mentor_worthwhile", V2_LIKERT[5], "non_mentor"),  # off_branch
    ("mentees_count", "3", "non_mentor"),  # off_branch
    ("mentor_again", V2_MENTOR_AGAIN["yes"], "non_mentor"),  # off_branch
)
# And in a v3 delivery: a label of the new item that is not an export label (the report's word).
V3_BAD_CELLS: tuple[tuple[str, str, str], ...] = (("mentor_prepared", "Agree", "mentor"),)  # unknown_label


def write_synthetic_deliveries(
    data_dir: Path,
    years: Iterable[int],
    rows_per_year: int,
    seed: int = 6,
    *,
    class_sizes: bool = True,
    mix: BucketMix = DEFAULT_MIX,
    instrument: str = "v2",
) -> list[Path]:
    """Write one choice-text delivery of ``rows_per_year`` raw rows per survey year; return the paths.

    Args:
        data_dir: the data folder; files go to ``landing/ssm_survey_<YYYY>.csv``.
        years: the survey years to write.
        rows_per_year: raw data rows per delivery, every bucket included (duplicates too).
        seed: each year draws from ``numpy.random.default_rng([seed, year, rows_per_year])``.
        class_sizes: write the years' class sizes (respondents / a response rate of 55-75%) into
            ``reference/class_sizes.csv``, keeping the lines of other years already there. Turn it off
            for years that should have no class size: the file then keeps only the other years' lines
            (or just its header), and the pipeline warns that these years have no response rate.
        mix: shares of previews, unfinished rows, refusals, duplicates and bad cells.
        instrument: the export layout, "v2" or "v3" (whatever the year; the pipeline flags a v3 file
            dated before 2026). v2's files do not change with this option.
    """
    if instrument not in HEADER_ROWS:
        raise ValueError(f"instrument {instrument!r}: this generator writes {', '.join(HEADER_ROWS)}")
    data_dir = Path(data_dir)
    landing = data_dir / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    sizes: dict[int, int] = {}
    paths = []
    for year in sorted(set(years)):
        rng = np.random.default_rng([seed, year, rows_per_year])
        frame, n_respondents = synthetic_year(year, rows_per_year, rng, mix, instrument)
        path = landing / f"ssm_survey_{year}.csv"
        _write_v2(path, frame, HEADER_ROWS[instrument])
        paths.append(path)
        sizes[year] = max(1, round(n_respondents / rng.uniform(0.55, 0.75)))
    # The file always exists (header only, at worst), so readers need not special-case its absence.
    _merge_class_sizes(data_dir / "reference" / "class_sizes.csv", sizes if class_sizes else {})
    return paths


def synthetic_year(
    year: int, rows: int, rng: np.random.Generator, mix: BucketMix = DEFAULT_MIX, instrument: str = "v2"
) -> tuple[pd.DataFrame, int]:
    """The rows of one delivery as a frame of cells (the instrument's columns, in file order), and how
    many of them are meant to be respondents."""
    questions = QUESTIONS_OF[instrument]
    n_dup = _count(rows, mix.duplicate)
    n_preview = _count(rows, mix.preview)
    n_incomplete = _count(rows, mix.incomplete)
    n_no_consent = _count(rows, mix.no_consent)
    n_rejected = _count(rows, mix.rejected)
    n_base = rows - n_dup
    n_respondents = n_base - n_preview - n_incomplete - n_no_consent - n_rejected
    if n_respondents < 0:
        raise ValueError(f"{rows} rows are too few for the bucket mix {mix}")
    kind = np.repeat(
        np.array(["respondent", "preview", "incomplete", "no_consent", "rejected"], dtype=object),
        [n_respondents, n_preview, n_incomplete, n_no_consent, n_rejected],
    )

    cells, cohort = _answers(n_base, year, rng, instrument)
    meta = _metadata(n_base, year, rng, finished=kind != "incomplete")
    cells.update(meta)
    respondent = kind == "respondent"

    # Previews: Qualtrics marks them by status, channel or both; test and spam count as previews too.
    preview = np.flatnonzero(kind == "preview")
    style = rng.choice(4, size=preview.size, p=[0.6, 0.2, 0.1, 0.1])
    cells["Status"][preview] = np.array(["Survey Preview", "Survey Test", "Spam", "IP Address"])[style]
    cells["DistributionChannel"][preview] = np.array(["preview", "test", "anonymous", "preview"])[style]

    # Unfinished: the answers stop part-way along the questionnaire (the demo's _unfinished).
    incomplete = np.flatnonzero(kind == "incomplete")
    kept = rng.integers(2, 11, size=incomplete.size)
    for position, column in enumerate(questions):
        cells[column][incomplete[kept <= position]] = ""
    cells["Progress"][incomplete] = np.clip(np.round(100 * kept / len(questions)), 5, 95)
    cells["consent"][incomplete] = V2_YES_NO["yes"]

    # Refusals: consent "No" (or left empty), and nothing else answered.
    no_consent = np.flatnonzero(kind == "no_consent")
    for column in questions:
        cells[column][no_consent] = ""
    cells["consent"][no_consent] = np.where(rng.random(no_consent.size) < 0.8, V2_YES_NO["no"], "")

    cells["ResponseId"][kind == "rejected"] = ""

    _comments(cells, np.flatnonzero(respondent), rng, mix)
    bad_cells = BAD_CELLS + (V3_BAD_CELLS if instrument == "v3" else ())
    flagged = _bad_cells(cells, np.flatnonzero(respondent), cohort, rng, mix, bad_cells)

    frame = pd.DataFrame({column: cells[column] for column in HEADER_ROWS[instrument][0]})
    # Earlier submissions of kept respondents (same ResponseId, recorded hours or days before).
    clean = np.flatnonzero(respondent & ~flagged)
    originals = rng.choice(clean, size=min(n_dup, clean.size), replace=False)
    frame = pd.concat([frame, _earlier_copies(frame.iloc[originals], rng)], ignore_index=True)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    return frame, n_respondents


# --------------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------------


def _count(rows: int, share: float) -> int:
    """Rows of a kind: the share, and at least one in a delivery of 100 rows or more."""
    if share <= 0:
        return 0
    return max(round(rows * share), 1 if rows >= 100 else 0)


def _pick(rng: np.random.Generator, weights: dict, size: int, labels: dict | None = None) -> np.ndarray:
    """Draw dict keys with the dict's weights (the vectorised demo._weighted), or their ``labels``."""
    keys = list(weights)
    out = np.empty(len(keys), dtype=object)
    out[:] = [labels[k] for k in keys] if labels is not None else keys
    p = np.asarray(list(weights.values()), dtype=float)
    return out[rng.choice(len(keys), size=size, p=p / p.sum())]


def _relabel(values: np.ndarray, labels: dict) -> np.ndarray:
    """Canonical values (drawn by _pick) to their exported labels."""
    return pd.Series(values, dtype=object).map(labels).to_numpy(dtype=object)


def _skipped(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.random(size) < ITEM_SKIP_CHANCE


def _likert(rng: np.random.Generator, agree_probability: np.ndarray) -> np.ndarray:
    """The demo's _likert for a whole column: 4/5 with the agree probability, else 1/2/3."""
    size = agree_probability.size
    agree = rng.random(size) < agree_probability
    high = np.where(rng.random(size) < 0.55, 4, 5)
    low = rng.choice([1, 2, 3], size=size, p=[0.1, 0.3, 0.6])
    return np.where(agree, high, low)


def _answers(
    n: int, year: int, rng: np.random.Generator, instrument: str = "v2"
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Consented answers for n rows (the demo's _random_answers, a column at a time)."""
    # cohort codes index COHORTS; the demo's _draw_cohort
    cohort_code = rng.choice(
        3, size=n, p=np.array(list(COHORT_SHARES.values())) / sum(COHORT_SHARES.values())
    )
    cohort_code[rng.random(n) < UNCLASSIFIED_SHARE] = 3
    cohort = COHORTS[cohort_code]
    mentor, non_mentor = cohort_code == 0, cohort_code == 1
    formal_no = (cohort_code == 1) | (cohort_code == 2)

    cells: dict[str, np.ndarray] = {}
    cells["consent"] = np.full(n, V2_YES_NO["yes"], dtype=object)
    gender = _pick(rng, V2_GENDER_WEIGHTS, n)
    cells["gender"] = _relabel(gender, V2_GENDER)
    cells["gender_4_TEXT"] = np.where(
        gender == "self_describe", _pick(rng, dict.fromkeys(SELF_DESCRIBED_GENDERS, 1), n), ""
    ).astype(object)
    ages = _pick(rng, AGE_WEIGHTS, n).astype(str).astype(object)
    ages[_skipped(rng, n)] = ""
    cells["age"] = ages
    specialty = _pick(rng, SPECIALTY_WEIGHTS, n)
    cells["specialty"] = _relabel(specialty, {code: label for code, (label, _) in SPECIALTIES.items()})
    cells["specialty_17_TEXT"] = np.where(
        specialty == OTHER_SPECIALTY, _pick(rng, dict.fromkeys(OTHER_SPECIALTY_TEXTS, 1), n), ""
    ).astype(object)
    cells["mentor_formal"] = np.where(
        mentor, V2_YES_NO["yes"], np.where(formal_no, V2_YES_NO["no"], "")
    ).astype(object)
    informal_yes = (cohort_code == 2) | (~non_mentor & (rng.random(n) < 0.2))
    cells["mentor_informal"] = np.where(informal_yes, V2_YES_NO["yes"], V2_YES_NO["no"]).astype(object)
    cells["had_student_mentor"] = _pick(rng, HAD_MENTOR_WEIGHTS, n, V2_HAD_MENTOR)

    likert_labels = np.array(["", *V2_LIKERT.values()], dtype=object)
    for number, item in enumerate(AGREE_PROBABILITY, start=1):
        by_cohort = dict(AGREE_PROBABILITY[item])
        if item == "value_mentee":
            by_cohort["non_mentor"] += VALUE_MENTEE_NON_MENTOR_DRIFT_PER_YEAR * (year - REFERENCE_YEAR)
        # unclassified respondents answer like the informal ones (the demo's _agree_probability)
        table = np.array([by_cohort[c] for c in ("mentor", "non_mentor", "informal", "informal")])
        p = np.clip(table, 0.01, 0.99)[cohort_code]
        values = _likert(rng, p)
        values[_skipped(rng, n)] = 0
        cells[f"SSM_value_{number}"] = likert_labels[values]

    again = _pick(rng, MENTOR_AGAIN_WEIGHTS, n, V2_MENTOR_AGAIN)
    again[~mentor | _skipped(rng, n)] = ""
    cells["mentor_again"] = again
    worthwhile = _likert(rng, np.full(n, WORTHWHILE_AGREE))
    worthwhile[~mentor | _skipped(rng, n)] = 0
    cells["mentor_worthwhile"] = likert_labels[worthwhile]
    mentees = _pick(rng, MENTEES_WEIGHTS, n)
    mentees[~mentor | _skipped(rng, n)] = ""
    cells["mentees_count"] = mentees

    # Reasons (shown when mentor_formal = no): each ticked with its probability; a non-mentor who
    # ticked none usually ticks one (the demo's _random_reasons). Labels joined by a bare comma.
    labels = REASONS_OFFERED[instrument]
    probability = {code: REASON_PROBABILITY.get(code, NEW_REASON_PROBABILITY) for code in labels}
    codes = list(probability)
    ticked = rng.random((n, len(codes))) < np.array(list(probability.values()))
    weights = np.array(list(probability.values()))
    forced = rng.choice(len(codes), size=n, p=weights / weights.sum())
    must = non_mentor & ~ticked.any(axis=1) & (rng.random(n) < 0.95)
    ticked[np.flatnonzero(must), forced[must]] = True
    ticked[~formal_no] = False
    patterns = ticked @ (1 << np.arange(len(codes)))
    joined = np.empty(1 << len(codes), dtype=object)
    for pattern in range(joined.size):
        joined[pattern] = ",".join(labels[c] for i, c in enumerate(codes) if pattern >> i & 1)
    cells["nonpart_reasons"] = joined[patterns]
    other_reason = ticked[:, codes.index(OTHER_REASON)]
    cells["nonpart_reasons_6_TEXT"] = np.where(
        other_reason, _pick(rng, dict.fromkeys(OTHER_REASON_TEXTS, 1), n), ""
    ).astype(object)
    cells["comments"] = np.full(n, "", dtype=object)
    if instrument == "v3":  # drawn last, so that the v2 columns are drawn as in a v2 delivery
        prepared = _likert(rng, np.full(n, PREPARED_AGREE))
        prepared[~mentor | _skipped(rng, n)] = 0
        cells["mentor_prepared"] = likert_labels[prepared]
    return cells, cohort


def _metadata(n: int, year: int, rng: np.random.Generator, finished: np.ndarray) -> dict[str, np.ndarray]:
    """Qualtrics bookkeeping and the fake identifying columns the pipeline must drop."""
    window_start = np.datetime64(f"{year}-03-06T07:00:00", "s")
    window_seconds = int((np.datetime64(f"{year}-05-15T22:00:00", "s") - window_start).astype(int))
    started = window_start + rng.integers(0, window_seconds, size=n).astype("timedelta64[s]")
    duration = np.where(
        rng.random(n) < 0.07, rng.integers(1200, 4 * 3600, size=n), rng.integers(150, 1200, size=n)
    )
    duration = np.where(finished, duration, rng.integers(30, 400, size=n))
    ended = started + duration.astype("timedelta64[s]")
    # Qualtrics records an abandoned response when it closes it, a week after the last activity.
    recorded = np.where(finished, ended, ended + np.timedelta64(7, "D"))

    first = rng.integers(0, len(FIRST_NAMES), size=n)
    last = rng.integers(0, len(LAST_NAMES), size=n)
    first_names = np.array(FIRST_NAMES, dtype=object)
    last_names = np.array(LAST_NAMES, dtype=object)
    emails = np.array([f"{f}.{s}@example.edu".lower() for f in FIRST_NAMES for s in LAST_NAMES], dtype=object)
    octets = [rng.integers(0, 256, size=n), rng.integers(0, 256, size=n), rng.integers(1, 255, size=n)]
    ip = "10." + octets[0].astype(str).astype(object)
    for octet in octets[1:]:
        ip = ip + "." + octet.astype(str).astype(object)
    return {
        "StartDate": _timestamps(started),
        "EndDate": _timestamps(ended),
        "Status": np.full(n, "IP Address", dtype=object),
        "IPAddress": ip,
        "Progress": np.where(finished, 100, 0).astype(np.int64),
        "Duration (in seconds)": duration.astype(np.int64),
        "Finished": np.where(finished, "True", "False").astype(object),
        "RecordedDate": _timestamps(recorded),
        "ResponseId": _response_ids(n, rng),
        "RecipientLastName": last_names[last],
        "RecipientFirstName": first_names[first],
        "RecipientEmail": emails[first * len(LAST_NAMES) + last],
        "ExternalReference": "SID" + rng.integers(100000, 1000000, size=n).astype(str).astype(object),
        "LocationLatitude": np.round(CAMPUS_LATITUDE + rng.uniform(-0.3, 0.3, size=n), 4),
        "LocationLongitude": np.round(CAMPUS_LONGITUDE + rng.uniform(-0.3, 0.3, size=n), 4),
        "DistributionChannel": np.full(n, "anonymous", dtype=object),
        "UserLanguage": np.full(n, "EN", dtype=object),
    }


def _timestamps(moments: np.ndarray) -> np.ndarray:
    """datetime64[s] to 'YYYY-MM-DD HH:MM:SS' (the ISO 'T' replaced in place, no per-row Python)."""
    text = np.datetime_as_string(moments, unit="s").astype("<U19")
    text.view(np.uint32).reshape(-1, 19)[:, 10] = ord(" ")
    return text.astype(object)


ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype="S1")


def _response_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """'R_' + 15 characters: 9 random, then the row's index in base 62 (unique within the file)."""
    digits = np.empty((n, 15), dtype=np.int64)
    digits[:, :9] = rng.integers(0, 62, size=(n, 9))
    index = np.arange(n)
    for position in range(14, 8, -1):
        digits[:, position] = index % 62
        index = index // 62
    ids = ALPHABET[digits].view("S15").ravel().astype("U15").astype(object)
    return "R_" + ids


def _comments(cells: dict[str, np.ndarray], respondents: np.ndarray, rng: np.random.Generator, mix) -> None:
    """Mostly empty; plain comments (some with commas), and a few with line breaks, e-mails, phones."""
    u = rng.random(respondents.size)
    plain = respondents[u < mix.comment]
    cells["comments"][plain] = _pick(rng, dict.fromkeys(PLAIN_COMMENTS, 1), plain.size)
    special = respondents[(u >= mix.comment) & (u < mix.comment + mix.contact_comment)]
    kinds = rng.integers(0, 3, size=special.size)
    cells["comments"][special[kinds == 0]] = MULTILINE_COMMENT
    with_email = special[kinds == 1]
    cells["comments"][with_email] = (
        "Happy to help recruit mentors next year, write to me at " + cells["RecipientEmail"][with_email] + "."
    )
    with_phone = special[kinds == 2]
    # 555-01xx numbers are reserved for fiction.
    suffix = rng.integers(0, 100, size=with_phone.size)
    cells["comments"][with_phone] = np.array(
        [f"Call me at (216) 555-01{s:02d} if you want to hear more, anytime." for s in suffix], dtype=object
    )


def _bad_cells(
    cells: dict[str, np.ndarray],
    respondents: np.ndarray,
    cohort: np.ndarray,
    rng: np.random.Generator,
    mix,
    bad_cells: tuple[tuple[str, str, str], ...] = BAD_CELLS,
) -> np.ndarray:
    """Put one flagged cell on a share of respondents (every kind at least once in a delivery of 100
    respondents or more); return the mask of rows that carry one."""
    flagged = np.zeros(len(cohort), dtype=bool)
    n_bad = round(mix.bad_cell * respondents.size)
    if mix.bad_cell > 0 and respondents.size >= 100:
        n_bad = max(n_bad, len(bad_cells))
    shuffled = rng.permutation(respondents)
    for number, (column, raw_value, carrier) in enumerate(bad_cells):
        wanted = len(range(number, n_bad, len(bad_cells)))
        allowed = ~flagged[shuffled]
        if carrier != "any":
            allowed &= cohort[shuffled] == carrier
        rows = shuffled[allowed][:wanted]
        cells[column][rows] = raw_value
        if column == "specialty":
            cells["specialty_17_TEXT"][rows] = ""
        flagged[rows] = True
    return flagged


def _earlier_copies(kept: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """First tries of kept respondents: same ResponseId, recorded 3-96 hours earlier, and disagreeing
    with the kept answer on value_mentee (so a pipeline that keeps the wrong copy gets other figures)."""
    copies = kept.copy()
    n = len(copies)
    ended = pd.to_datetime(copies["EndDate"], format="%Y-%m-%d %H:%M:%S").to_numpy().astype("datetime64[s]")
    started = ended - rng.integers(3 * 3600, 96 * 3600, size=n).astype("timedelta64[s]")
    finish = started + rng.integers(150, 900, size=n).astype("timedelta64[s]")
    copies["StartDate"] = _timestamps(started)
    copies["EndDate"] = _timestamps(finish)
    copies["RecordedDate"] = _timestamps(finish)
    copies["Duration (in seconds)"] = (finish - started).astype(np.int64)
    agrees = copies["SSM_value_2"].isin([V2_LIKERT[4], V2_LIKERT[5]])
    copies["SSM_value_2"] = np.where(agrees, V2_LIKERT[3], V2_LIKERT[4])
    copies["comments"] = ""
    return copies


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def _write_v2(path: Path, frame: pd.DataFrame, header_rows: list[list[str]] = V2_FORMAT.header_rows) -> None:
    """The three header rows of v2 or v3 (csv module), then the rows as DuckDB writes CSV: quoted only where a
    field holds a comma, quote or line break, empty cells unquoted, LF endings (what csv.writer and
    pandas write too, byte for byte, only twice as fast)."""
    import duckdb

    columns = []
    for name in frame.columns:
        quoted = '"' + name.replace('"', '""') + '"'
        if name.startswith("Location"):
            columns.append(f"printf('%.4f', {quoted})")
        elif frame[name].dtype.kind in "iuf":
            columns.append(quoted)
        else:
            columns.append(f"nullif({quoted}, '')")  # NULL is written as an empty field, '' as ""
    body = path.with_name(path.name + ".body")
    with duckdb.connect() as con:
        con.register("delivery", frame)
        con.execute(
            f"copy (select {', '.join(columns)} from delivery) to '{body}' "
            "(format csv, header false, delimiter ',', quote '\"', escape '\"')"
        )
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(header_rows)
        with body.open(encoding="utf-8", newline="") as rows:
            shutil.copyfileobj(rows, handle, 1 << 20)
    body.unlink()


def _merge_class_sizes(path: Path, sizes: dict[int, int]) -> None:
    """Write the class sizes of these years, keeping the other years' lines already in the file."""
    merged: dict[int, int] = {}
    if path.exists():
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                merged[int(row["survey_year"])] = int(row["class_size"])
    merged.update(sizes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["survey_year", "class_size"])
        writer.writerows(sorted(merged.items()))


def main(argv: Sequence[str] | None = None) -> None:
    """python -m pipelines.generators.synthetic DATA_DIR --years 2016-2025 --rows 200 [--seed 6]"""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--years", default="2016-2025", help="e.g. 2016-2025 or 2019,2021")
    parser.add_argument("--rows", type=int, default=200, help="raw rows per delivery")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--no-class-sizes", action="store_true")
    parser.add_argument("--instrument", choices=sorted(HEADER_ROWS), default="v2", help="export layout")
    args = parser.parse_args(argv)
    years = parse_years(args.years)
    paths = write_synthetic_deliveries(
        args.data_dir,
        years,
        args.rows,
        args.seed,
        class_sizes=not args.no_class_sizes,
        instrument=args.instrument,
    )
    print(f"wrote {len(paths)} deliveries of {args.rows} rows to {args.data_dir / 'landing'}")


def parse_years(text: str) -> list[int]:
    """'2016-2025' or '2016,2018' (or a mix) as a sorted list of years."""
    years: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, last = (int(p) for p in part.split("-"))
            years.update(range(first, last + 1))
        elif part.strip():
            years.add(int(part))
    return sorted(years)


if __name__ == "__main__":
    main()
