"""From a raw delivery to canonical rows: the buckets of spec §5, decoding by the instrument mapping,
pandera validation, and the privacy rules of §6.

Every raw data row leaves here in exactly one bucket. A bad cell never drops its row: the value becomes
missing and the cell is listed as a data-quality issue (row, column, original value, rule).

The work is columnar. A column is held as codes into its distinct (stripped) values, and every rule that
looks at one cell at a time (decoding a label, parsing an integer, splitting the multi-select reasons,
masking contact details) runs once per distinct value and is then spread back over the rows. A survey
column has a handful of distinct values, so 50,000 rows cost about what 50 do. The pandas operations are
the ones a whole column would get, applied to the distinct values, so the values and their dtypes are
the same as for the whole column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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

_BUCKET_NAMES = np.array(BUCKETS, dtype=object)
_UNASSIGNED = -1
_PREVIEW, _INCOMPLETE, _NO_CONSENT, _DUPLICATE, _REJECTED, _RESPONDENT = range(len(BUCKETS))
# White space at the start or end of a value, in values joined by NUL (which no cell holds).
_EDGE_SPACE = re.compile(r"\x00(?:\s|(?<=\s\x00))")


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

    def add(self, row_numbers: Iterable[int], column: str, values: Iterable[object], rule: str) -> None:
        # A bad cell can hold anything a respondent typed; it is kept as evidence, minus contact details.
        self.rows.extend(
            (int(r), column, mask_contacts(str(v)), rule) for r, v in zip(row_numbers, values, strict=True)
        )

    def frame(self) -> pd.DataFrame:
        issues = pd.DataFrame(self.rows, columns=list(ISSUE_COLUMNS))
        return issues.sort_values(["row_number", "column_name"], kind="stable").reset_index(drop=True)


class _Column:
    """A column as codes into its distinct values (uniques, in order of first use; missing is a value).

    A rule that looks at one cell at a time is applied to ``uniques`` and spread back over the rows:
    ``column.spread(rule(column.uniques))`` equals ``rule(column.values())``, dtype included, because
    pandas infers a result's dtype from the set of values, which the distinct values share with the
    column.
    """

    def __init__(self, codes: np.ndarray, uniques: pd.Series, index: pd.Index) -> None:
        self.codes = codes
        self.uniques = uniques.reset_index(drop=True)
        self.index = index

    @classmethod
    def of(cls, series: pd.Series) -> _Column:
        """The column of a Series (its dtype and index kept)."""
        codes, uniques = pd.factorize(series.array, use_na_sentinel=False)
        return cls(codes, pd.Series(uniques, dtype=series.dtype), series.index)

    def counts(self) -> np.ndarray:
        """How many rows hold each distinct value."""
        return np.bincount(self.codes, minlength=len(self.uniques))

    def spread(self, per_value: pd.Series) -> pd.Series:
        """A Series with one entry per distinct value, spread over the rows (dtype kept)."""
        return pd.Series(per_value.array.take(self.codes), index=self.index)

    def mask(self, per_value: pd.Series | np.ndarray) -> np.ndarray:
        """A boolean per distinct value, spread over the rows as a numpy mask."""
        return np.asarray(per_value, dtype=bool)[self.codes]

    def cells(self, rows: np.ndarray) -> np.ndarray:
        """The values of the rows at these positions (or where a mask is true), as a numpy array."""
        return self.uniques.to_numpy(dtype=object)[self.codes[rows]]

    def values(self) -> pd.Series:
        """The whole column, one value per row."""
        return self.spread(self.uniques)

    def subset(self, positions: np.ndarray, index: pd.Index) -> _Column:
        """The rows at these positions, with only the values they use (as a column of those rows has)."""
        codes = self.codes[positions]
        used = np.bincount(codes, minlength=len(self.uniques)) > 0
        return _Column((np.cumsum(used) - 1)[codes], self.uniques[used], index)


class _Cells:
    """The stripped data cells of a delivery by column name, each column made when first asked for.

    What the frame of stripped strings was: indexed by row number, its columns of dtype str (object when
    there are no rows, as pandas makes an empty frame).
    """

    def __init__(
        self, table: RawTable, positions: np.ndarray | None = None, parent: _Cells | None = None
    ) -> None:
        self.table = table
        numbers = table.row_numbers if positions is None else table.row_numbers[positions]
        self.index = pd.Index(numbers, name="row_number")
        self.dtype: object = "str" if table.row_count else object
        self._positions = positions
        self._parent = parent
        self._columns: dict[str, _Column] = {}
        self._where: dict[str, list[int]] = {}
        for j, name in enumerate(table.columns):
            self._where.setdefault(name, []).append(j)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, name: object) -> bool:
        return name in self._where

    def column(self, name: str) -> _Column:
        if name not in self._columns:
            if self._parent is not None and self._positions is not None:
                self._columns[name] = self._parent.column(name).subset(self._positions, self.index)
            else:
                self._columns[name] = self._read(name)
        return self._columns[name]

    def _read(self, name: str) -> _Column:
        where = self._where[name]
        if len(where) > 1:
            raise DeliveryError(
                self.table.file_name,
                f"has {len(where)} columns named {name} in its header row",
                "Keep one column of each name (remove or rename the others), or export the survey again.",
                row=1,
                column=name,
            )
        codes, uniques = pd.factorize(self.table.cells[where[0]].to_numpy())
        if _EDGE_SPACE.search("\x00" + "\x00".join(uniques) + "\x00"):  # some value needs stripping
            stripped_codes, uniques = pd.factorize(np.array([u.strip() for u in uniques], dtype=object))
            codes = stripped_codes[codes]
        return _Column(codes, pd.Series(uniques, dtype=self.dtype), self.index)

    def value_at(self, row_number: int, name: str) -> str:
        column = self.column(name)
        return column.uniques.iloc[column.codes[self.index.get_loc(row_number)]]

    def rows(self, positions: np.ndarray) -> _Cells:
        """The rows at these positions (their columns made from this one's when asked for)."""
        return _Cells(self.table, positions, parent=self)


def _by_value(series: pd.Series, function: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """function(series), evaluated once per distinct value (missing included) and spread over the rows."""
    column = _Column.of(series)
    return column.spread(function(column.uniques))


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


def _check_raw_shape(cells: _Cells, table: RawTable) -> None:
    """Refuse a delivery whose columns or rows do not have the instrument's raw shape."""
    try:
        empty = pd.DataFrame(columns=list(table.columns), dtype=cells.dtype)
        raw_schema(table.instrument).validate(empty, lazy=True)
    except pa.errors.SchemaErrors as err:
        missing = sorted(err.failure_cases["failure_case"].astype(str).unique())
        raise DeliveryError(
            table.file_name,
            f"looks like survey version {table.instrument.name} but lacks the column(s) {', '.join(missing)}",
            "Export the full survey (all questions and metadata) from Qualtrics and replace the file.",
            row=1,
        ) from None
    # A repeated header row starts with the header's first name: only those rows are compared in full.
    header = list(table.columns)
    raw = table.cells
    for position in np.flatnonzero(raw[0].to_numpy() == header[0]):
        if table.field_counts[position] >= len(header) and all(
            raw[j].iat[position] == name for j, name in enumerate(header)
        ):
            raise DeliveryError(
                table.file_name,
                "repeats its header row inside the data (two exports pasted together?)",
                "Keep one export per file: remove the second set of header rows, or export again.",
                row=int(table.row_numbers[position]),
            )


def _wrong_width(table: RawTable) -> np.ndarray:
    """Rows with the wrong number of fields. Legacy exports end every line with a comma: extra
    trailing empty fields are not an error."""
    width = len(table.columns)
    wrong = table.field_counts < width
    for j in table.cells.columns[width:]:
        wrong |= table.cells[j].to_numpy() != ""
    return wrong


def _coded_variables(instrument: Instrument) -> list[Variable]:
    return [
        v for v in [*instrument.metadata.values(), *instrument.variables.values()] if v.choices and v.column
    ]


def _detect_coding(cells: _Cells, instrument: Instrument) -> str:
    """Choose numeric codes or choice text by which explains more of the coded cells."""
    if len(instrument.codings) == 1:
        return instrument.codings[0]
    scores = {}
    for coding in instrument.codings:
        matched = total = 0
        for variable in _coded_variables(instrument):
            if variable.column not in cells or variable.kind == "multi_joined":
                continue
            column = cells.column(variable.column)
            counts = column.counts()
            filled = (column.uniques != "").to_numpy()
            keys = column.uniques if coding == "numeric" else column.uniques.str.casefold()
            known = keys.isin(_lookup(variable, coding).keys()).to_numpy()
            matched += int(counts[filled & known].sum())
            total += int(counts[filled].sum())
        scores[coding] = matched / total if total else 0.0
    return max(scores, key=scores.__getitem__)


def _check_values_fit(cells: _Cells, instrument: Instrument, coding: str, file_name: str) -> None:
    """Refuse a file whose coded columns mostly match neither coding (e.g. a v1 header over v2 values)."""
    for variable in [instrument.metadata["status"], instrument.metadata["finished"]]:
        column = cells.column(variable.column)
        counts = column.counts()
        filled = int(counts[(column.uniques != "").to_numpy()].sum())
        _, unknown = _decode_choice(column.uniques, variable, coding)
        n_unknown = int(counts[unknown.to_numpy()].sum())
        if filled and n_unknown / filled > 0.5:
            first = int(np.flatnonzero(column.mask(unknown))[0])
            raise DeliveryError(
                file_name,
                f"has values that do not fit its {instrument.name} header ({coding} coding): "
                f"{n_unknown} of {filled} cells of {variable.column} are not "
                # The row and column say where to look; the cell is not quoted: in a file whose rows
                # are shifted it can be an IP address or a name, and messages reach logs and e-mail.
                f"{', '.join(c.label if coding == 'text' else c.code for c in variable.choices)} "
                f"(the first in row {int(cells.index[first])})",
                "Check that the header rows belong to this export; export the survey again if unsure.",
                row=int(cells.index[first]),
                column=variable.column,
            )


@dataclass(frozen=True)
class _Metadata:
    is_preview: np.ndarray
    is_finished: np.ndarray
    recorded_at: pd.Series
    response_id: _Column


def _metadata(cells: _Cells, instrument: Instrument, coding: str) -> _Metadata:
    def decoded(name: str) -> tuple[_Column, pd.Series]:
        variable = instrument.metadata[name]
        column = cells.column(variable.column)
        return column, _decode_choice(column.uniques, variable, coding)[0]

    status_column, status = decoded("status")
    is_preview = status_column.mask(status.eq("preview"))
    if "distribution_channel" in instrument.metadata:
        channel = instrument.metadata["distribution_channel"]
        column = cells.column(channel.column)
        values, _ = _decode_choice(column.uniques.str.casefold(), channel, "numeric")
        is_preview |= column.mask(values.eq("preview"))
    finished_column, finished = decoded("finished")
    is_finished = finished_column.mask(finished.eq(True))
    if "progress" in instrument.metadata:
        progress = cells.column(instrument.metadata["progress"].column)
        is_finished &= progress.mask(pd.to_numeric(progress.uniques, errors="coerce").ge(100))
    recorded = cells.column(instrument.metadata["recorded_at"].column)
    recorded_at = recorded.spread(
        pd.to_datetime(recorded.uniques, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    )
    response_id = cells.column(instrument.metadata["response_id"].column)
    return _Metadata(is_preview, is_finished, recorded_at, response_id)


def _assign_buckets(meta: _Metadata, no_consent: np.ndarray, wrong_width: np.ndarray) -> np.ndarray:
    """Apply the §5 rules in order (codes into BUCKETS); a row that cannot be read at all is rejected
    before anything else."""
    bucket = np.full(len(wrong_width), _UNASSIGNED, dtype=np.int8)
    bucket[wrong_width] = _REJECTED
    for code, rule in [
        (_PREVIEW, meta.is_preview),
        (_INCOMPLETE, ~meta.is_finished),
        (_NO_CONSENT, no_consent),
    ]:
        bucket[(bucket == _UNASSIGNED) & rule] = code
    no_id = meta.response_id.mask((meta.response_id.uniques == "").to_numpy())
    candidates = np.flatnonzero((bucket == _UNASSIGNED) & ~no_id)
    # keep the latest recorded response of a ResponseId (the later row wins a tie; no date sorts first)
    recorded = meta.recorded_at.to_numpy().view(np.int64)[candidates]
    order = candidates[np.lexsort((np.arange(candidates.size), recorded))]
    ids = pd.Series(meta.response_id.codes[order])
    bucket[order[ids.duplicated(keep="last").to_numpy()]] = _DUPLICATE
    bucket[(bucket == _UNASSIGNED) & no_id] = _REJECTED
    bucket[bucket == _UNASSIGNED] = _RESPONDENT
    return bucket


def _decode_integer(column: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Whole numbers; returns the numbers, the cells that are not whole numbers, and those too large
    to be any answer of §2 (over nine digits: they would not fit a 64-bit integer, and no range of
    the instrument comes near)."""
    whole = column.str.fullmatch(r"[+-]?\d+")
    huge = whole & (column.str.lstrip("+-").str.lstrip("0").str.len() > 9)
    numbers = pd.to_numeric(column.where(whole & ~huge), errors="coerce").astype("Int64")
    return numbers, (column != "") & ~huge & numbers.isna(), huge


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


def _split_joined_values(
    values: pd.Series, variable: Variable, coding: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """_split_joined over distinct cells: a boolean column per reason code, and the unmatched text."""
    flags = {code: np.zeros(len(values), dtype=bool) for code in REASON_CODES}
    rest = np.full(len(values), "", dtype=object)
    for i, cell in enumerate(values):
        found, rest[i] = _split_joined(cell, variable, coding) if cell else ([], "")
        for code in REASON_CODES:
            flags[code][i] = code in found
    return pd.DataFrame(flags), rest


def _decode_answers(kept: _Cells, instrument: Instrument, coding: str, issues: _Issues) -> pd.DataFrame:
    answers = pd.DataFrame(index=kept.index)
    rows = kept.index.to_numpy()
    for name, variable in instrument.variables.items():
        if variable.kind == "multi_columns":
            for column_name, code in variable.columns.items():
                if column_name in kept:
                    column = kept.column(column_name)
                else:
                    column = _Column(np.zeros(len(kept), dtype=np.intp), pd.Series([""]), kept.index)
                cells = column.uniques
                unknown = (cells != "") & (cells != variable.ticked)
                bad = column.mask(unknown)
                issues.add(rows[bad], column_name, column.cells(bad), "not_in_code_list")
                answers[f"nonpart_reason_{code}"] = column.spread(
                    (cells == variable.ticked).astype("boolean").where(~unknown)
                )
            continue
        if variable.column not in kept:
            answers[name] = pd.NA
            continue
        column = kept.column(variable.column)
        cells = column.uniques
        if variable.kind == "multi_joined":
            flags, rest = _split_joined_values(cells, variable, coding)
            unmatched = column.mask(rest != "")
            issues.add(rows[unmatched], variable.column, rest[column.codes[unmatched]], "unknown_label")
            for code in REASON_CODES:
                answers[f"nonpart_reason_{code}"] = pd.array(column.mask(flags[code]), dtype="boolean")
        elif variable.kind == "integer":
            numbers, bad_values, huge_values = _decode_integer(cells)
            answers[name] = column.spread(numbers)
            bad = column.mask(bad_values)
            issues.add(rows[bad], variable.column, column.cells(bad), "not_an_integer")
            huge = column.mask(huge_values)
            issues.add(rows[huge], variable.column, column.cells(huge), "out_of_range")
        elif variable.kind == "text":
            answers[name] = column.spread(cells.where(cells != ""))
        else:
            values, unknown_values = _decode_choice(cells, variable, coding)
            answers[name] = column.spread(values)
            unknown = column.mask(unknown_values)
            rule = "not_in_code_list" if coding == "numeric" else "unknown_label"
            issues.add(rows[unknown], variable.column, column.cells(unknown), rule)
    return answers


_SCHEMA_COLUMNS = tuple(HarmonisedResponses.to_schema().columns)
_NULLABLE = {name: column.nullable for name, column in HarmonisedResponses.to_schema().columns.items()}


def _distinct_values(answers: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The answers' distinct values per schema column, as a frame to validate, and per column the
    codes of the rows into them (row i of the frame holds value i; shorter columns repeat their last).

    Every check of HarmonisedResponses looks at one value at a time, except the uniqueness of
    respondent_key, which holds by construction (one respondent per ResponseId; its first keys stand in),
    and the index check (row numbers, all >= 1). So a value fails in this frame exactly where it fails in
    the answers, and pandera checks dozens of rows instead of every respondent.
    """
    codes: dict[str, np.ndarray] = {}
    distinct = {}
    for column in answers.columns:
        if column in _SCHEMA_COLUMNS and column != "respondent_key":
            codes[column], distinct[column] = pd.factorize(answers[column].array, use_na_sentinel=False)
    length = max((len(values) for values in distinct.values()), default=0)
    rows = np.arange(length)
    frame = pd.DataFrame(
        {
            column: answers[column].array[:length]
            if column == "respondent_key"
            else distinct[column].take(np.minimum(rows, len(distinct[column]) - 1))
            for column in answers.columns
            if column in _SCHEMA_COLUMNS
        },
        index=pd.RangeIndex(1, length + 1, name="row_number"),
    )
    return frame, codes


def _validate(answers: pd.DataFrame, kept: _Cells, instrument: Instrument, issues: _Issues) -> pd.DataFrame:
    """Run the pandera schema lazily; every failing cell becomes an issue and a missing value."""
    frame, codes = _distinct_values(answers)
    try:
        HarmonisedResponses.validate(frame, lazy=True)
        return answers
    except pa.errors.SchemaErrors as err:
        failures = err.failure_cases
    cell_failures = failures[failures["index"].notna() & failures["column"].isin(answers.columns)]
    sources = {
        column: instrument.variables[column].column if column in instrument.variables else column
        for column in cell_failures["column"].unique()
    }
    if not all(column in codes and source in kept for column, source in sources.items()):
        return _validate_rows(answers, kept, instrument, issues)
    rows = answers.index.to_numpy()
    for (column, check), labels in cell_failures.groupby(["column", "check"], sort=False, dropna=False)[
        "index"
    ]:
        n_values = int(codes[column].max()) + 1
        value_failed = np.zeros(n_values, dtype=bool)
        value_failed[np.minimum(labels.astype(int).to_numpy() - 1, n_values - 1)] = True
        bad = value_failed[codes[column]]
        rule = str(check).split("(")[0]
        issues.add(
            rows[bad], sources[column], kept.column(sources[column]).cells(bad), CHECK_RULES.get(rule, rule)
        )
        answers.loc[bad, column] = pd.NA
    # Checked again only if something besides single values failed, or a value became missing where
    # missing is not allowed: otherwise nothing can fail now.
    if len(cell_failures) < len(failures) or not all(_NULLABLE[column] for column in sources):
        HarmonisedResponses.validate(_distinct_values(answers)[0], lazy=True)  # what is left is a bug
    return answers


def _validate_rows(
    answers: pd.DataFrame, kept: _Cells, instrument: Instrument, issues: _Issues
) -> pd.DataFrame:
    """_validate on every row, for failures that are not about single values (never seen)."""
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
        original = kept.value_at(row_number, source) if source in kept else failure.failure_case
        issues.add([row_number], source, [original], CHECK_RULES.get(check, check))
        answers.at[row_number, column] = pd.NA
    HarmonisedResponses.validate(answers, lazy=True)  # anything left is a bug in decoding, not in the data
    return answers


def _apply_branches(answers: pd.DataFrame, kept: _Cells, instrument: Instrument, issues: _Issues) -> None:
    """Answers to questions the respondent was not shown (§2 "shown to") are issues, set to missing."""
    rows = answers.index.to_numpy()
    for name, condition in canonical()["branches"].items():
        ((gate, wanted),) = condition.items()
        off_branch = answers[gate].ne(wanted).fillna(True)
        variable = instrument.variables[name]
        targets = list(REASON_COLUMNS) if name == "nonpart_reasons" else [name]
        sources = variable.source_columns()
        answered = (
            answers[targets].eq(True).any(axis=1) if name == "nonpart_reasons" else answers[name].notna()
        )
        bad = (off_branch & answered).to_numpy()
        if bad.any():
            for source in sources:
                cells = kept.column(source).cells(bad)
                filled = cells != ""
                issues.add(rows[bad][filled], source, cells[filled], "off_branch")
        # Not shown means not answered: missing, not "no", for everyone off the branch.
        answers.loc[off_branch, targets] = pd.NA


def _check_year(recorded_at: pd.Series, survey_year: int, file_name: str) -> None:
    years = recorded_at.dropna().dt.year.to_numpy()
    if not years.size:
        return
    values, counts = np.unique(years, return_counts=True)
    # Only a majority can refuse the file, and a majority is the one most common year.
    year, n = int(values[counts.argmax()]), int(counts.max())
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
    cells = _Cells(table)
    wrong_width = _wrong_width(table)
    _check_raw_shape(cells, table)
    coding = _detect_coding(cells, instrument)
    _check_values_fit(cells, instrument, coding, table.file_name)
    issues = _Issues()
    meta = _metadata(cells, instrument, coding)
    _check_year(meta.recorded_at, survey_year, table.file_name)
    consent_variable = instrument.variables["consent"]
    consent_column = cells.column(consent_variable.column)
    consent, _ = _decode_choice(consent_column.uniques, consent_variable, coding)
    bucket = _assign_buckets(meta, consent_column.mask(consent.ne("yes")), wrong_width)

    # Each distinct ResponseId is hashed once; rows without one get no key.
    ids = meta.response_id.uniques
    id_keys = np.array([hash_response_id(rid, salt) if rid else None for rid in ids], dtype=object)
    keys = id_keys[meta.response_id.codes]

    respondents = np.flatnonzero(bucket == _RESPONDENT)
    kept = cells.rows(respondents)
    answers = _decode_answers(kept, instrument, coding, issues)
    answers.insert(0, "respondent_key", keys[respondents].tolist())
    answers = _validate(answers, kept, instrument, issues)
    _apply_branches(answers, kept, instrument, issues)
    for column in TEXT_VARIABLES:
        answers[column] = _by_value(answers[column], mask_series)

    responses = pd.DataFrame(index=cells.index)
    responses["survey_year"] = survey_year
    responses["row_number"] = cells.index.to_numpy()
    responses["bucket"] = pd.Series(_BUCKET_NAMES[bucket], index=cells.index, dtype=object)
    responses["respondent_key"] = keys.tolist()
    responses["recorded_at"] = meta.recorded_at
    responses = responses.join(answers.reindex(columns=list(ANSWER_COLUMNS)))  # other buckets: no answers
    for column in INTEGER_COLUMNS:
        responses[column] = responses[column].astype("Int64")
    for column in REASON_COLUMNS:
        responses[column] = responses[column].astype("boolean")
    return HarmonisedDelivery(instrument.name, coding, responses.reset_index(drop=True), issues.frame())
