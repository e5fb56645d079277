"""From a raw delivery to canonical rows: the buckets of spec §5, decoding by the instrument mapping,
pandera validation, and the privacy rules of §6.

Every raw data row leaves here in exactly one bucket. A bad cell never drops its row: the value becomes
missing and the cell is listed as a data-quality issue (row, column, original value, rule).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from pipelines.lib.errors import DeliveryError
from pipelines.lib.privacy import hash_response_id, mask_contacts, mask_series
from pipelines.lib.readers import RawTable
from schemas.instruments import Instrument, Variable, canonical
from schemas.raw import raw_schema
from schemas.responses import CHECK_RULES, HarmonisedResponses

BUCKETS = ("preview", "incomplete", "no_consent", "duplicate", "rejected", "respondent")
REASON_CODES = tuple(r["code"] for r in canonical()["reasons"])
REASON_COLUMNS = tuple(f"nonpart_reason_{code}" for code in REASON_CODES)
ANSWER_COLUMNS = (
    "consent", "gender", "age", "specialty", "specialty_other_text", "mentor_formal", "mentor_informal",
    "had_student_mentor", "value_distinct", "value_mentee", "value_mentor", "mentor_again",
    "mentor_worthwhile", "mentees_count", *REASON_COLUMNS, "nonpart_other_text", "comments",
)  # fmt: skip
INTEGER_COLUMNS = (
    "age", "specialty", "value_distinct", "value_mentee", "value_mentor", "mentor_worthwhile", "mentees_count",
)  # fmt: skip
TEXT_VARIABLES = ("specialty_other_text", "nonpart_other_text", "comments")
RESPONSE_COLUMNS = ("survey_year", "row_number", "bucket", "respondent_key", "recorded_at", *ANSWER_COLUMNS)
ISSUE_COLUMNS = ("row_number", "column_name", "original_value", "rule")


@dataclass(frozen=True)
class HarmonisedDelivery:
    """The outcome of one delivery: every row with its bucket, and every cell-level issue."""

    instrument: str
    coding: str
    responses: pd.DataFrame  # RESPONSE_COLUMNS, one row per raw data row
    issues: pd.DataFrame  # ISSUE_COLUMNS

    def bucket_counts(self) -> dict[str, int]:
        """Rows per bucket, every bucket present (zero when empty)."""
        counts = self.responses["bucket"].value_counts()
        return {b: int(counts.get(b, 0)) for b in BUCKETS}


class _Issues:
    """Collects cell-level issues as plain tuples (cheap to append, one frame at the end)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, str, str]] = []

    def add(self, row_numbers: pd.Series, column: str, values: pd.Series, rule: str) -> None:
        # A bad cell can hold anything a respondent typed; it is kept as evidence, minus contact details.
        self.rows.extend(
            (int(r), column, mask_contacts(str(v)), rule) for r, v in zip(row_numbers, values, strict=True)
        )

    def frame(self) -> pd.DataFrame:
        issues = pd.DataFrame(self.rows, columns=list(ISSUE_COLUMNS))
        return issues.sort_values(["row_number", "column_name"], kind="stable").reset_index(drop=True)


def _cells_frame(table: RawTable) -> tuple[pd.DataFrame, pd.Series]:
    """All rows as a frame of stripped strings, and a flag for rows with the wrong number of fields."""
    width = len(table.columns)
    cells, wrong_width = [], []
    for row in table.rows:
        values = list(row.cells)
        # Legacy exports end every line with a comma: extra trailing empty fields are not an error.
        while len(values) > width and values[-1] == "":
            values.pop()
        wrong_width.append(len(values) != width)
        cells.append((values + [""] * width)[:width])
    frame = pd.DataFrame(cells, columns=list(table.columns), dtype=object).map(str.strip)
    frame.index = pd.Index([r.row_number for r in table.rows], name="row_number")
    return frame, pd.Series(wrong_width, index=frame.index)


def _lookup(variable: Variable, coding: str) -> dict[str, object]:
    if coding == "numeric":
        return {c.code: c.value for c in variable.choices}
    return {c.label.casefold(): c.value for c in variable.choices}


def _decode_choice(column: pd.Series, variable: Variable, coding: str) -> tuple[pd.Series, pd.Series]:
    """Decode one single-choice column; return the values and a mask of cells that matched nothing."""
    lookup = _lookup(variable, coding)
    keys = column if coding == "numeric" else column.str.casefold()
    values = keys.map(lookup)
    unknown = (column != "") & values.isna()
    return values.where(~unknown), unknown


def _check_raw_shape(frame: pd.DataFrame, table: RawTable) -> None:
    """Refuse a delivery whose columns or rows do not have the instrument's raw shape."""
    try:
        raw_schema(table.instrument).validate(frame.head(0), lazy=True)
    except pa.errors.SchemaErrors as err:
        missing = sorted(err.failure_cases["failure_case"].astype(str).unique())
        raise DeliveryError(
            table.file_name,
            f"looks like survey version {table.instrument.name} but lacks the column(s) {', '.join(missing)}",
            "Export the full survey (all questions and metadata) from Qualtrics and replace the file.",
            row=1,
        ) from None
    header = list(table.columns)
    for row in table.rows:
        if list(row.cells[: len(header)]) == header:
            raise DeliveryError(
                table.file_name,
                "repeats its header row inside the data (two exports pasted together?)",
                "Keep one export per file: remove the second set of header rows, or export again.",
                row=row.row_number,
            )


def _detect_coding(frame: pd.DataFrame, instrument: Instrument) -> str:
    """Choose numeric codes or choice text by which explains more of the coded cells."""
    if len(instrument.codings) == 1:
        return instrument.codings[0]
    scores = {}
    coded = [
        v for v in [*instrument.metadata.values(), *instrument.variables.values()] if v.choices and v.column
    ]
    for coding in instrument.codings:
        matched = total = 0
        for variable in coded:
            if variable.column not in frame or variable.kind == "multi_joined":
                continue
            column = frame[variable.column]
            column = column[column != ""]
            keys = column if coding == "numeric" else column.str.casefold()
            matched += int(keys.isin(_lookup(variable, coding).keys()).sum())
            total += len(column)
        scores[coding] = matched / total if total else 0.0
    return max(scores, key=scores.__getitem__)


def _check_values_fit(frame: pd.DataFrame, instrument: Instrument, coding: str, file_name: str) -> None:
    """Refuse a file whose coded columns mostly match neither coding (e.g. a v1 header over v2 values)."""
    for variable in [instrument.metadata["status"], instrument.metadata["finished"]]:
        column = frame[variable.column]
        filled = column[column != ""]
        _, unknown = _decode_choice(filled, variable, coding)
        if len(filled) and unknown.mean() > 0.5:
            example_row = int(unknown[unknown].index[0])
            raise DeliveryError(
                file_name,
                f"has values that do not fit its {instrument.name} header ({coding} coding): "
                f"{int(unknown.sum())} of {len(filled)} cells of {variable.column} are not "
                f"{', '.join(c.label if coding == 'text' else c.code for c in variable.choices)} "
                f"(first: {column[example_row]!r})",
                "Check that the header rows belong to this export; export the survey again if unsure.",
                row=example_row,
                column=variable.column,
            )


def _metadata(frame: pd.DataFrame, instrument: Instrument, coding: str) -> pd.DataFrame:
    meta = pd.DataFrame(index=frame.index)
    status, _ = _decode_choice(
        frame[instrument.metadata["status"].column], instrument.metadata["status"], coding
    )
    meta["is_preview"] = status.eq("preview")
    if "distribution_channel" in instrument.metadata:
        channel = instrument.metadata["distribution_channel"]
        decoded, _ = _decode_choice(frame[channel.column].str.casefold(), channel, "numeric")
        meta["is_preview"] |= decoded.eq("preview")
    finished, _ = _decode_choice(
        frame[instrument.metadata["finished"].column], instrument.metadata["finished"], coding
    )
    meta["is_finished"] = finished.eq(True)
    if "progress" in instrument.metadata:
        progress = pd.to_numeric(frame[instrument.metadata["progress"].column], errors="coerce")
        meta["is_finished"] &= progress.ge(100)
    recorded = instrument.metadata["recorded_at"]
    meta["recorded_at"] = pd.to_datetime(frame[recorded.column], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    meta["response_id"] = frame[instrument.metadata["response_id"].column]
    return meta


def _assign_buckets(
    frame: pd.DataFrame, meta: pd.DataFrame, consent: pd.Series, wrong_width: pd.Series
) -> pd.Series:
    """Apply the §5 rules in order; a row that cannot be read at all is rejected before anything else."""
    bucket = pd.Series(pd.NA, index=frame.index, dtype=object)
    unreadable = wrong_width
    bucket[unreadable] = "rejected"
    for name, rule in [
        ("preview", meta["is_preview"]),
        ("incomplete", ~meta["is_finished"]),
        ("no_consent", consent.ne("yes")),
    ]:
        bucket[bucket.isna() & rule] = name
    candidates = bucket.isna() & meta["response_id"].ne("")
    order = meta.loc[candidates].assign(position=np.arange(candidates.sum()))
    # keep the latest recorded response of a ResponseId (the later row wins a tie)
    order = order.sort_values(["recorded_at", "position"], na_position="first", kind="stable")
    duplicates = order.index[order["response_id"].duplicated(keep="last")]
    bucket[duplicates] = "duplicate"
    bucket[bucket.isna() & meta["response_id"].eq("")] = "rejected"
    return bucket.fillna("respondent")


def _decode_integer(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    numbers = pd.to_numeric(column.where(column.str.fullmatch(r"[+-]?\d+")), errors="coerce").astype("Int64")
    return numbers, (column != "") & numbers.isna()


def _split_joined(cell: str, variable: Variable, coding: str) -> tuple[list[object], str]:
    """Split a multi-select cell whose labels may themselves contain the separator.

    Returns the canonical values found and any text that matched no label (empty when all matched).
    """
    if coding == "numeric":
        parts = [p.strip() for p in cell.split(variable.separator) if p.strip()]
        lookup = _lookup(variable, coding)
        return [lookup[p] for p in parts if p in lookup], ",".join(p for p in parts if p not in lookup)
    labels = sorted(variable.choices, key=lambda c: len(c.label), reverse=True)
    found, rest, position = [], [], 0
    while position < len(cell):
        for choice in labels:
            end = position + len(choice.label)
            if cell[position:end].casefold() == choice.label.casefold() and (
                end == len(cell) or cell[end] == variable.separator
            ):
                found.append(choice.value)
                position = end + 1
                break
        else:
            end = cell.find(variable.separator, position)
            end = len(cell) if end < 0 else end
            rest.append(cell[position:end])
            position = end + 1
    return found, variable.separator.join(p for p in rest if p.strip())


def _decode_answers(
    frame: pd.DataFrame, instrument: Instrument, coding: str, issues: _Issues
) -> pd.DataFrame:
    answers = pd.DataFrame(index=frame.index)
    rows = pd.Series(frame.index, index=frame.index)
    for name, variable in instrument.variables.items():
        if variable.kind == "multi_columns":
            for column, code in variable.columns.items():
                cells = frame[column] if column in frame else pd.Series("", index=frame.index)
                unknown = (cells != "") & (cells != variable.ticked)
                issues.add(rows[unknown], column, cells[unknown], "not_in_code_list")
                answers[f"nonpart_reason_{code}"] = (
                    (cells == variable.ticked).astype("boolean").where(~unknown)
                )
            continue
        if variable.column not in frame:
            answers[name] = pd.NA
            continue
        cells = frame[variable.column]
        if variable.kind == "multi_joined":
            flags = {code: [] for code in REASON_CODES}
            for row_number, cell in cells.items():
                found, rest = _split_joined(cell, variable, coding) if cell else ([], "")
                if rest:
                    issues.add(pd.Series([row_number]), variable.column, pd.Series([rest]), "unknown_label")
                for code in REASON_CODES:
                    flags[code].append(code in found)
            for code in REASON_CODES:
                answers[f"nonpart_reason_{code}"] = pd.array(flags[code], dtype="boolean")
        elif variable.kind == "integer":
            answers[name], bad = _decode_integer(cells)
            issues.add(rows[bad], variable.column, cells[bad], "not_an_integer")
        elif variable.kind == "text":
            answers[name] = cells.where(cells != "")
        else:
            answers[name], unknown = _decode_choice(cells, variable, coding)
            rule = "not_in_code_list" if coding == "numeric" else "unknown_label"
            issues.add(rows[unknown], variable.column, cells[unknown], rule)
    return answers


def _validate(
    answers: pd.DataFrame, frame: pd.DataFrame, instrument: Instrument, issues: _Issues
) -> pd.DataFrame:
    """Run the pandera schema lazily; every failing cell becomes an issue and a missing value."""
    try:
        HarmonisedResponses.validate(answers, lazy=True)
        return answers
    except pa.errors.SchemaErrors as err:
        failures = err.failure_cases
    cell_failures = failures[failures["index"].notna() & failures["column"].isin(answers.columns)]
    for failure in cell_failures.itertuples():
        row_number, column = int(failure.index), str(failure.column)
        source = instrument.variables[column].column if column in instrument.variables else column
        check = str(failure.check).split("(")[0]
        original = frame.at[row_number, source] if source in frame else failure.failure_case
        issues.add(pd.Series([row_number]), source, pd.Series([original]), CHECK_RULES.get(check, check))
        answers.at[row_number, column] = pd.NA
    HarmonisedResponses.validate(answers, lazy=True)  # anything left is a bug in decoding, not in the data
    return answers


def _apply_branches(
    answers: pd.DataFrame, frame: pd.DataFrame, instrument: Instrument, issues: _Issues
) -> None:
    """Answers to questions the respondent was not shown (§2 "shown to") are issues, set to missing."""
    rows = pd.Series(answers.index, index=answers.index)
    for name, condition in canonical()["branches"].items():
        ((gate, wanted),) = condition.items()
        off_branch = answers[gate].ne(wanted).fillna(True)
        variable = instrument.variables[name]
        targets = list(REASON_COLUMNS) if name == "nonpart_reasons" else [name]
        sources = variable.source_columns()
        answered = (
            answers[targets].eq(True).any(axis=1) if name == "nonpart_reasons" else answers[name].notna()
        )
        bad = off_branch & answered
        if bad.any():
            for source in sources:
                cells = frame.loc[bad, source]
                filled = cells != ""
                issues.add(rows[bad][filled], source, cells[filled], "off_branch")
        # Not shown means not answered: missing, not "no", for everyone off the branch.
        answers.loc[off_branch, targets] = pd.NA


def _check_year(meta: pd.DataFrame, survey_year: int, file_name: str) -> None:
    years = meta["recorded_at"].dropna().dt.year
    if years.empty:
        return
    counts = Counter(years)
    year, n = counts.most_common(1)[0]
    if year != survey_year and n > len(years) / 2:
        raise DeliveryError(
            file_name,
            f"is named for survey year {survey_year}, but {n} of {len(years)} responses were recorded in {year}",
            f"If this is the {year} survey, rename the file ssm_survey_{year}...; otherwise check the export.",
        )


def harmonise(table: RawTable, survey_year: int, salt: str) -> HarmonisedDelivery:
    """Bucket, decode, validate and de-identify every row of one delivery.

    Args:
        table: the delivery as read by readers.read_delivery.
        survey_year: the year in the file name.
        salt: the ResponseId hash salt (SSM_RESPONSE_SALT).

    Returns:
        Every raw data row with its bucket (answers filled for respondents only), and the cell issues.

    Raises:
        DeliveryError: the file as a whole cannot be trusted (values fit neither coding, wrong year).
    """
    instrument = table.instrument
    frame, wrong_width = _cells_frame(table)
    _check_raw_shape(frame, table)
    coding = _detect_coding(frame, instrument)
    _check_values_fit(frame, instrument, coding, table.file_name)
    issues = _Issues()
    meta = _metadata(frame, instrument, coding)
    _check_year(meta, survey_year, table.file_name)
    consent_variable = instrument.variables["consent"]
    consent, _ = _decode_choice(frame[consent_variable.column], consent_variable, coding)
    bucket = _assign_buckets(frame, meta, consent, wrong_width)

    respondents = bucket.eq("respondent")
    kept = frame[respondents]
    answers = _decode_answers(kept, instrument, coding, issues)
    answers.insert(
        0, "respondent_key", [hash_response_id(rid, salt) for rid in meta.loc[respondents, "response_id"]]
    )
    answers = _validate(answers, kept, instrument, issues)
    _apply_branches(answers, kept, instrument, issues)
    for column in TEXT_VARIABLES:
        answers[column] = mask_series(answers[column])

    responses = pd.DataFrame(index=frame.index)
    responses["survey_year"] = survey_year
    responses["row_number"] = frame.index.to_numpy()
    responses["bucket"] = bucket
    responses["respondent_key"] = [
        hash_response_id(rid, salt) if rid else None for rid in meta["response_id"]
    ]
    responses["recorded_at"] = meta["recorded_at"]
    responses = responses.join(answers.reindex(columns=list(ANSWER_COLUMNS)))  # other buckets: no answers
    for column in INTEGER_COLUMNS:
        responses[column] = responses[column].astype("Int64")
    for column in REASON_COLUMNS:
        responses[column] = responses[column].astype("boolean")
    return HarmonisedDelivery(instrument.name, coding, responses.reset_index(drop=True), issues.frame())
