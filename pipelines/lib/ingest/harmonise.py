"""From a raw delivery to canonical rows: the buckets of spec §5, decoding by the instrument mapping,
pandera validation, and the privacy rules of §6.

Every raw data row leaves here in exactly one bucket. A bad cell never drops its row: the value becomes
missing and the cell is listed as a data-quality issue (row, column, original value, rule).

The work is columnar and stays in DuckDB, in temporary tables beside the delivery's cells
(readers.RawTable). The rows never become Python objects; only the distinct values of a column do. A
rule that looks at one cell at a time (a label or code, a whole number, the multi-select reasons, a
date in an odd format, masking contact details) runs in Python once per distinct value, with the
string semantics it always had (str.strip, str.casefold, re), and its outcome goes back to DuckDB as a
small table of value -> result that is joined to the rows. A survey column has a handful of distinct
values, so 50,000 rows cost about what 50 do. The rules over rows are SQL: the §5 buckets in order (a
window keeps the latest copy of a ResponseId), the salted hash of the ResponseId, the branches of §2,
and the issues, which are the rows whose value is in a rule's set of failing values.

pandera checks the decoded answers as before, on a frame of each column's distinct values (every check
of the harmonised-responses schema looks at one value at a time); a value that fails becomes missing, and its rows
issues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa

from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.privacy import mask_contacts
from pipelines.lib.ingest.readers import RawTable, sql_string, stripped, temp_table_name
from schemas.codebook import codebook
from schemas.instruments import Instrument, Variable
from schemas.raw import raw_schema
from schemas.responses import CHECK_RULES, harmonised_responses

BUCKETS = ("preview", "incomplete", "no_consent", "duplicate", "rejected", "respondent")
# The answer columns of raw.responses, as the codebook declares the variables (a multi-select is one
# true/false column per answer; an answer the instrument did not offer stays missing).
_BOOK = codebook()
ANSWER_COLUMNS = tuple(name for name, _ in _BOOK.answer_columns())
MULTI_COLUMNS = {
    name: tuple(column for column, _ in variable.columns())
    for name, variable in _BOOK.variables.items()
    if variable.type == "multi"
}
BOOLEAN_COLUMNS = frozenset(column for columns in MULTI_COLUMNS.values() for column in columns)
INTEGER_COLUMNS = tuple(name for name, sql_type in _BOOK.answer_columns() if sql_type == "integer")
TEXT_VARIABLES = tuple(name for name, variable in _BOOK.variables.items() if variable.type == "text")
RESPONSE_COLUMNS = ("survey_year", "row_number", "bucket", "respondent_key", "recorded_at", *ANSWER_COLUMNS)
ISSUE_COLUMNS = ("row_number", "column_name", "original_value", "rule")

_SCHEMA = harmonised_responses()
_SCHEMA_COLUMNS = tuple(_SCHEMA.columns)
_NULLABLE = {name: column.nullable for name, column in _SCHEMA.columns.items()}
# A date as Qualtrics writes it, which DuckDB parses exactly as pandas does (tests/test_ingest_equivalence.py;
# pandas also takes seconds 60 and 61, rolling over): every other value is parsed by pandas.
_PLAIN_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-5][0-9]"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class HarmonisedDelivery:
    """The outcome of one delivery: every row with its bucket, and every cell-level issue.

    The rows are a temporary DuckDB view on the connection the delivery was read with (over its cells
    and a few small tables of this delivery), made into rows when they are written
    (``insert_responses``) or asked for as a frame (``responses``). ``close()`` drops the view and its
    tables; close the RawTable after this.
    """

    def __init__(
        self,
        instrument: str,
        coding: str,
        issues: pd.DataFrame,
        con: duckdb.DuckDBPyConnection,
        view: str,
        tables: Sequence[str],
        counts: dict[str, int],
    ) -> None:
        self.instrument = instrument
        self.coding = coding
        self.issues = issues  # ISSUE_COLUMNS
        self.con = con
        self.view = view  # RESPONSE_COLUMNS, one row per raw data row
        self._tables = list(tables)
        self._counts = counts

    @cached_property
    def responses(self) -> pd.DataFrame:
        """RESPONSE_COLUMNS, one row per raw data row in file order (answers for respondents only)."""
        frame = self.con.execute(f"select * from {self.view} order by row_number").df()
        for column in ("survey_year", "row_number"):
            frame[column] = frame[column].astype(np.int64)
        frame["bucket"] = frame["bucket"].astype(object)
        for column in INTEGER_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        for column in BOOLEAN_COLUMNS:
            frame[column] = frame[column].astype("boolean")
        return frame

    def bucket_counts(self) -> dict[str, int]:
        """Rows per bucket, every bucket present (zero when empty)."""
        return dict(self._counts)

    def insert_responses(self, con: duckdb.DuckDBPyConnection, delivery_sha256: str) -> None:
        """Append the rows to raw.responses of `con`: straight from DuckDB when it holds them (the
        ingest reads each delivery on the warehouse's connection), else through a frame."""
        if con is self.con:
            con.execute(
                f"insert into raw.responses by name select ? as delivery_sha256, * from {self.view}",
                [delivery_sha256],
            )
            return
        loaded = self.responses.assign(delivery_sha256=delivery_sha256)
        name = temp_table_name("responses_frame")
        con.register(name, loaded)
        try:
            con.execute(f"insert into raw.responses by name select * from {name}")
        finally:
            con.unregister(name)

    def close(self) -> None:
        """Drop the rows' view and its tables."""
        self.con.execute(f"drop view if exists {self.view}")
        for table in self._tables:
            self.con.execute(f"drop table if exists {table}")


# ------------------------------------------------------------------------------------------------
# The rules, applied to the distinct values of a column (a pandas Series of dtype str)
# ------------------------------------------------------------------------------------------------


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
    """_split_joined over distinct cells: a boolean column per answer offered, and the unmatched text."""
    codes = [choice.value for choice in variable.choices]
    flags = {code: np.zeros(len(values), dtype=bool) for code in codes}
    rest = np.full(len(values), "", dtype=object)
    for i, cell in enumerate(values):
        found, rest[i] = _split_joined(cell, variable, coding) if cell else ([], "")
        for code in codes:
            flags[code][i] = code in found
    return pd.DataFrame(flags), rest


def _parse_dates(values: pd.Series) -> pd.Series:
    """RecordedDate/EndDate as timestamps; a value that is no date in the export's format is missing."""
    return pd.to_datetime(values, format=_DATE_FORMAT, errors="coerce")


# ------------------------------------------------------------------------------------------------
# Columns in DuckDB, and their distinct values
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distinct:
    """The distinct values of a column over some rows, stripped (as the rules see them), in order of
    their first row; and the distinct cells as read, each with its stripped value."""

    values: pd.Series  # dtype str
    counts: np.ndarray  # rows per value
    first_rows: np.ndarray  # the row number where each value first appears
    raw: list[str]  # the distinct cells as read
    of_raw: np.ndarray  # the position in `values` of each cell as read

    @classmethod
    def of_cells(cls, raw: Sequence[str], counts: np.ndarray, first_rows: np.ndarray) -> Distinct:
        """From the distinct cells as read, in order of their first row."""
        position: dict[str, int] = {}
        of_raw = np.empty(len(raw), dtype=np.intp)
        for i, cell in enumerate(raw):
            of_raw[i] = position.setdefault(cell.strip(), len(position))
        n = len(position)
        total = np.bincount(of_raw, weights=counts, minlength=n).astype(np.int64)
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, of_raw, first_rows)
        return cls(pd.Series(list(position), dtype="str"), total, first, list(raw), of_raw)

    def raw_where(self, decided: pd.Series | np.ndarray) -> list[str]:
        """The cells as read whose stripped value a rule said True of."""
        return [self.raw[i] for i in np.flatnonzero(np.asarray(decided, dtype=bool)[self.of_raw])]

    def spread(self, per_value: Sequence[object]) -> list[object]:
        """A result per stripped value as a result per cell as read."""
        return [per_value[i] for i in self.of_raw]


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (not isinstance(value, str) and bool(pd.isna(value)))


def _python(value: object) -> object:
    """A value as a DuckDB parameter: missing as None, numpy scalars as Python ones."""
    if _is_missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class _Run:
    """One harmonisation: the delivery's cells in DuckDB and the temporary tables made for it."""

    table: RawTable
    con: duckdb.DuckDBPyConnection = field(init=False)
    positions: dict[str, list[int]] = field(init=False)
    scratch: list[str] = field(default_factory=list)  # dropped when the run ends
    kept: list[str] = field(default_factory=list)  # the responses' view reads them: dropped by close()
    scopes: dict[str, str] = field(default_factory=dict)  # name -> SQL of a set of rows (rn, c0, ...)
    _distinct: dict[tuple[str, str], Distinct] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.con = self.table.con
        self.positions = {}
        for j, name in enumerate(self.table.columns):
            self.positions.setdefault(name, []).append(j)
        self.scopes["all"] = self.table.cells

    def new_table(self, kind: str, *, keep: bool = False) -> str:
        name = temp_table_name(kind)
        (self.kept if keep else self.scratch).append(name)
        return name

    def drop(self, names: Iterable[str]) -> None:
        statements = "; ".join(f"drop table if exists {name}" for name in names)
        if statements:
            self.con.execute(statements)

    def __contains__(self, name: object) -> bool:
        return name in self.positions

    def column(self, name: str) -> str:
        """The SQL name of an export column's cells (refused if the header has it twice)."""
        where = self.positions[name]
        if len(where) > 1:
            raise DeliveryError(
                self.table.file_name,
                f"has {len(where)} columns named {name} in its header row",
                "Keep one column of each name (remove or rename the others), or export the survey again.",
                row=1,
                column=name,
            )
        return f"c{where[0]}"

    def distinct(self, scope: str, names: Sequence[str]) -> dict[str, Distinct]:
        """The distinct values of these export columns over a scope's rows, in one query (only of the
        columns named once in the header: column() refuses the others where they are first used)."""
        wanted = [
            name
            for name in dict.fromkeys(names)
            if (scope, name) not in self._distinct and len(self.positions.get(name, [])) == 1
        ]
        if wanted:
            # One scan, one group per column (grouping sets); grouping_id tells the groups apart.
            sql = [self.column(name) for name in wanted]
            found = self.con.execute(
                f"select grouping_id({', '.join(sql)}) as g, {', '.join(sql)}, count(*) as n, "
                f"min(rn) as first from {self.scopes[scope]} "
                f"group by grouping sets ({', '.join(f'({c})' for c in sql)}) order by g, first"
            ).fetchnumpy()
            groups = np.asarray(found["g"], dtype=np.int64)
            everything = (1 << len(sql)) - 1
            for k, name in enumerate(wanted):
                mine = groups == everything ^ (1 << (len(sql) - 1 - k))  # grouped by this column only
                self._distinct[(scope, name)] = Distinct.of_cells(
                    np.asarray(found[sql[k]], dtype=object)[mine].tolist(),
                    np.asarray(found["n"], dtype=np.int64)[mine],
                    np.asarray(found["first"], dtype=np.int64)[mine],
                )
        return {name: self._distinct[(scope, name)] for name in names if (scope, name) in self._distinct}

    def value_table(
        self, cells: Sequence[str], results: dict[str, tuple[str, Sequence[object]]], *, keep: bool = True
    ) -> str:
        """A table of distinct cells as read (``v``) and what rules made of each: a column per result,
        {name: (SQL type, a result per cell)}. Kept for the responses' view unless told otherwise."""
        name = self.new_table("values", keep=keep)
        columns = ", ".join(
            ["unnest(?::VARCHAR[]) as v", *(f"unnest(?::{t}[]) as {n}" for n, (t, _) in results.items())]
        )
        parameters = [list(cells), *([_python(x) for x in xs] for _, xs in results.values())]
        self.con.execute(f"create temp table {name} as select {columns}", parameters)
        return name

    def rows_with(self, scope: str, name: str, cells: Sequence[str]) -> _Rows | None:
        """The scope's rows whose cell in this column is one of these (as read): a query for _Issues."""
        if not len(cells):
            return None
        column = self.column(name)
        return _Rows(
            f"select rn, {column} as cell from {self.scopes[scope]} where list_contains(?::VARCHAR[], {column})",
            [list(cells)],
        )


def _in(cells: Iterable[str], column: str) -> str:
    """SQL: is the column's cell one of these (a literal list; there are a handful)."""
    listed = ", ".join(sql_string(c) for c in cells)
    return f"list_contains([{listed}]::VARCHAR[], {column})"


@dataclass(frozen=True)
class _Rows:
    """A query of the rows (rn) and cells as read (cell) an issue is about, with its parameters."""

    sql: str
    parameters: list[object]


@dataclass(frozen=True)
class _Request:
    group: int
    rows: _Rows
    column: str
    rule: str
    original: Callable[[str], str | None]  # the stripped cell -> the value on record (None: no issue)


class _Issues:
    """Collects cell-level issues, each group numbered in the order it was found. The rows of every
    group are asked of DuckDB together, in one query, when the frame is made."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, str, str, int]] = []
        self._requests: list[_Request] = []
        self._masked: dict[str, str] = {}

    def add(
        self,
        rows: _Rows | None,
        column: str,
        rule: str,
        original: Callable[[str], str | None] = lambda cell: cell,
    ) -> None:
        """Issues of one rule in one column: the rows a query finds, each with its cell (stripped, or
        what `original` makes of it)."""
        if rows is not None:
            self._requests.append(_Request(len(self._requests), rows, column, rule, original))

    def resolve(self, con: duckdb.DuckDBPyConnection) -> None:
        """Run the queries of every group, in one."""
        if not self._requests:
            return
        union = " union all ".join(
            f"select {request.group} as g, rn, cell from ({request.rows.sql})" for request in self._requests
        )
        parameters = [p for request in self._requests for p in request.rows.parameters]
        for group, rn, cell in con.execute(f"{union} order by g, rn", parameters).fetchall():
            request = self._requests[group]
            value = request.original(cell.strip())
            if value is not None:
                self.rows.append((int(rn), request.column, self._mask(str(value)), request.rule, group))
        self._requests = []

    def _mask(self, value: str) -> str:
        # A bad cell can hold anything a respondent typed; it is kept as evidence, minus contact details.
        if value not in self._masked:
            self._masked[value] = mask_contacts(value)
        return self._masked[value]

    def frame(self) -> pd.DataFrame:
        # By row and column; one cell's issues (a label not in the list, then off its branch) in the
        # order they were found.
        ordered = sorted(self.rows, key=lambda issue: (issue[0], issue[1], issue[4]))
        return pd.DataFrame([issue[:4] for issue in ordered], columns=list(ISSUE_COLUMNS))


# ------------------------------------------------------------------------------------------------
# The delivery as a whole: shape, coding, values that fit, year
# ------------------------------------------------------------------------------------------------


def _check_raw_shape(table: RawTable) -> None:
    """Refuse a delivery whose columns or rows do not have the instrument's raw shape."""
    try:
        empty = pd.DataFrame(columns=list(table.columns), dtype="str")
        raw_schema(table.instrument).validate(empty, lazy=True)
    except pa.errors.SchemaErrors as err:
        missing = sorted(err.failure_cases["failure_case"].astype(str).unique())
        raise DeliveryError(
            table.file_name,
            f"looks like survey version {table.instrument.name} but lacks the column(s) {', '.join(missing)}",
            "Export the full survey (all questions and metadata) from Qualtrics and replace the file.",
            row=1,
        ) from None
    # A repeated header row: every cell the header's name, exactly as read.
    header = list(table.columns)
    same = " and ".join(f"c{j} = {sql_string(name)}" for j, name in enumerate(header))
    repeated = table.con.execute(
        f"select min(rn) from {table.cells} where nf >= {len(header)} and {same}"
    ).fetchall()[0][0]
    if repeated is not None:
        raise DeliveryError(
            table.file_name,
            "repeats its header row inside the data (two exports pasted together?)",
            "Keep one export per file: remove the second set of header rows, or export again.",
            row=int(repeated),
        )


def _coded_variables(instrument: Instrument) -> list[Variable]:
    return [
        v for v in [*instrument.metadata.values(), *instrument.variables.values()] if v.choices and v.column
    ]


def _source(variable: Variable) -> str:
    assert variable.column is not None
    return variable.column


def _read_all_rows(run: _Run, instrument: Instrument) -> None:
    """The distinct values of every coded column and of Progress over all rows, in one query."""
    names = [v.column for v in _coded_variables(instrument) if v.column in run and v.column is not None]
    if "progress" in instrument.metadata:
        names.append(_source(instrument.metadata["progress"]))
    run.distinct("all", names)


def _detect_coding(run: _Run, instrument: Instrument) -> str:
    """Choose numeric codes or choice text by which explains more of the coded cells."""
    if len(instrument.codings) == 1:
        return instrument.codings[0]
    scores = {}
    for variable in _coded_variables(instrument):  # refused in this order if one is in the header twice
        if variable.column in run and variable.kind != "multi_joined":
            run.column(_source(variable))
    for coding in instrument.codings:
        matched = total = 0
        for variable in _coded_variables(instrument):
            if variable.column not in run or variable.kind == "multi_joined":
                continue
            column = run.distinct("all", [_source(variable)])[_source(variable)]
            filled = (column.values != "").to_numpy()
            keys = column.values if coding == "numeric" else column.values.str.casefold()
            known = keys.isin(_lookup(variable, coding).keys()).to_numpy()
            matched += int(column.counts[filled & known].sum())
            total += int(column.counts[filled].sum())
        scores[coding] = matched / total if total else 0.0
    return max(scores, key=scores.__getitem__)


def _check_values_fit(run: _Run, instrument: Instrument, coding: str, file_name: str) -> None:
    """Refuse a file whose coded columns mostly match neither coding (e.g. a v1 header over v2 values)."""
    for variable in [instrument.metadata["status"], instrument.metadata["finished"]]:
        run.column(_source(variable))
        column = run.distinct("all", [_source(variable)])[_source(variable)]
        filled = int(column.counts[(column.values != "").to_numpy()].sum())
        _, unknown = _decode_choice(column.values, variable, coding)
        unknown = unknown.to_numpy()
        n_unknown = int(column.counts[unknown].sum())
        if filled and n_unknown / filled > 0.5:
            first = int(column.first_rows[unknown].min())
            raise DeliveryError(
                file_name,
                f"has values that do not fit its {instrument.name} header ({coding} coding): "
                f"{n_unknown} of {filled} cells of {variable.column} are not "
                # The row and column say where to look; the cell is not quoted: in a file whose rows
                # are shifted it can be an IP address or a name, and messages reach logs and e-mail.
                f"{', '.join(c.label if coding == 'text' else c.code for c in variable.choices)} "
                f"(the first in row {first})",
                "Check that the header rows belong to this export; export the survey again if unsure.",
                row=first,
                column=variable.column,
            )


@dataclass(frozen=True)
class _Metadata:
    """SQL over the delivery's cells (``v``) for what §5 decides by."""

    is_preview: str
    is_finished: str
    recorded_at: str
    response_id: str
    joins: str


def _metadata(run: _Run, instrument: Instrument, coding: str) -> _Metadata:
    def decoded(name: str) -> tuple[str, Distinct, pd.Series]:
        variable = instrument.metadata[name]
        sql = run.column(_source(variable))
        column = run.distinct("all", [_source(variable)])[_source(variable)]
        return sql, column, _decode_choice(column.values, variable, coding)[0]

    status_sql, status, status_values = decoded("status")
    is_preview = _in(status.raw_where(status_values.eq("preview")), f"v.{status_sql}")
    if "distribution_channel" in instrument.metadata:
        channel = instrument.metadata["distribution_channel"]
        channel_sql = run.column(_source(channel))
        column = run.distinct("all", [_source(channel)])[_source(channel)]
        values, _ = _decode_choice(column.values.str.casefold(), channel, "numeric")
        is_preview += f" or {_in(column.raw_where(values.eq('preview')), f'v.{channel_sql}')}"
    finished_sql, finished, finished_values = decoded("finished")
    is_finished = _in(finished.raw_where(finished_values.eq(True)), f"v.{finished_sql}")
    if "progress" in instrument.metadata:
        progress = _source(instrument.metadata["progress"])
        progress_sql = run.column(progress)
        column = run.distinct("all", [progress])[progress]
        complete = pd.to_numeric(column.values, errors="coerce").ge(100)
        is_finished += f" and {_in(column.raw_where(complete), f'v.{progress_sql}')}"
    recorded = f"v.{run.column(_source(instrument.metadata['recorded_at']))}"
    # Dates as Qualtrics writes them are parsed by DuckDB; any other cell (few: empty, another format,
    # white space around) by pandas, as it always was.
    plain = f"regexp_full_match({recorded}, {sql_string(_PLAIN_DATE)})"
    other = [
        cell
        for (cell,) in run.con.execute(
            f"select distinct {recorded} from {run.table.cells} v where not {plain}"
        ).fetchall()
    ]
    parsed = _parse_dates(pd.Series([c.strip() for c in other], dtype="str")).to_numpy()
    parsed = parsed.astype("datetime64[us]")
    micros = [None if nat else int(t) for t, nat in zip(parsed.view(np.int64), np.isnat(parsed), strict=True)]
    dates = run.value_table(other, {"micros": ("BIGINT", micros)}, keep=False)
    return _Metadata(
        f"coalesce({is_preview}, false)",
        f"coalesce({is_finished}, false)",
        f"case when {plain} then try_strptime({recorded}, {sql_string(_DATE_FORMAT)}) "
        "else make_timestamp(dates.micros) end",
        stripped(f"v.{run.column(_source(instrument.metadata['response_id']))}"),
        f"left join {dates} dates on dates.v = {recorded}",
    )


def _assign_buckets(run: _Run, meta: _Metadata, consented: str, salt: str) -> str:
    """A table of every data row, in file order: its number (rn), bucket, key and recorded date, and
    its cells (as read) of the columns the answers are read from.

    Apply the §5 rules in order; a row that cannot be read at all (the wrong number of fields: legacy
    exports end every line with a comma, so extra trailing empty fields are not an error) is rejected
    before anything else. Of the rows left after rules 1-3 that share a ResponseId, the latest recorded
    one is kept (the later row wins a tie; no date sorts first). Every row with a ResponseId gets its
    salted hash as its key."""
    table = run.table
    width = len(table.columns)
    wrong = [f"v.nf < {width}", *(f"v.c{j} <> ''" for j in range(width, table.width))]
    wider = [rn for rn, cells in table.wider.items() if any(cells)]
    if wider:
        wrong.append(f"v.rn in ({', '.join(map(str, wider))})")
    # The cells come beside the buckets, which are decided on the few columns they need (a window over
    # whole rows would carry every cell through its sort) and put in row order to stand side by side.
    cells = sorted(
        {run.column(s) for s in _answer_sources(table.instrument) if len(run.positions.get(s, [])) == 1},
        key=lambda c: int(c[1:]),
    )
    buckets = run.new_table("rows", keep=True)
    run.con.execute(
        f"""
        create temp table {buckets} as
        select c.rn{"".join(f", c.{c}" for c in cells)}, b.bucket, b.respondent_key, b.recorded_at
        from (select rn{"".join(f", {c}" for c in cells)} from {table.cells}) c positional join (
        with decided as (
            select v.rn, {meta.response_id} as rid, {meta.recorded_at} as recorded_at,
                case
                    when {" or ".join(wrong)} then 'rejected'
                    when {meta.is_preview} then 'preview'
                    when not {meta.is_finished} then 'incomplete'
                    when not ({consented}) then 'no_consent'
                end as bucket
            from {table.cells} v {meta.joins}
        ),
        candidates as (select rn, rid, recorded_at from decided where bucket is null and rid <> ''),
        copies as (
            select rn, row_number() over (
                partition by rid order by recorded_at desc nulls last, rn desc
            ) as newest_first
            from candidates
            where rid in (select rid from candidates group by rid having count(*) > 1)
        )
        select
            rn as row_number,
            coalesce(
                bucket,
                case
                    when rid = '' then 'rejected'
                    when rn in (select rn from copies where newest_first > 1) then 'duplicate'
                    else 'respondent'
                end
            ) as bucket,
            case when rid <> '' then sha256(? || chr(31) || rid) end as respondent_key,
            recorded_at
        from decided
        order by rn
        ) b
        """,
        [salt],
    )
    return buckets


def _counts(con: duckdb.DuckDBPyConnection, buckets: str) -> tuple[dict[str, int], dict[int, int]]:
    """Rows per bucket, and rows per year recorded (rows without a date left out)."""
    per_bucket: dict[str, int] = {}
    per_year: dict[int, int] = {}
    for bucket, year, n in con.execute(
        f"select bucket, year(recorded_at), count(*) from {buckets} group by all"
    ).fetchall():
        per_bucket[bucket] = per_bucket.get(bucket, 0) + n
        if year is not None:
            per_year[year] = per_year.get(year, 0) + n
    return {b: per_bucket.get(b, 0) for b in BUCKETS}, per_year


def _check_year(per_year: dict[int, int], survey_year: int, file_name: str) -> None:
    total = sum(per_year.values())
    if not total:
        return
    # Only a majority can refuse the file, and a majority is the one most common year.
    year, n = min(per_year.items(), key=lambda item: (-item[1], item[0]))
    if year != survey_year and n > total / 2:
        raise DeliveryError(
            file_name,
            f"is named for survey year {survey_year}, but {n} of {total} responses were recorded in {year}",
            f"If this is the {year} survey, rename the file ssm_survey_{year}...; otherwise check the export.",
        )


# ------------------------------------------------------------------------------------------------
# Answers of the respondents
# ------------------------------------------------------------------------------------------------


@dataclass
class _Answer:
    """How one answer column is made from one export column: a result per distinct (stripped) value."""

    name: str  # the column of raw.responses
    source: str | None  # the export column (None: the same constant for everyone)
    column: Distinct | None = None  # its distinct values among the respondents
    decoded: pd.Series | None = None  # one result per distinct value (missing where it means nothing)
    constant: str = "NULL"  # SQL when there is no source column
    sql: str = ""  # SQL for the answer, over the respondents' cells (r) and the tables of results
    masked_sql: str = ""  # the same, for free text: contact details masked

    @property
    def sql_type(self) -> str:
        return _answer_type(self.name)


def _answer_type(name: str) -> str:
    return "BOOLEAN" if name in BOOLEAN_COLUMNS else "BIGINT" if name in INTEGER_COLUMNS else "VARCHAR"


def _answer_sources(instrument: Instrument) -> list[str]:
    """The export columns the answers are read from, in the order they are read."""
    sources = []
    for variable in instrument.variables.values():
        if variable.kind == "multi_columns":
            sources += list(variable.columns)
        elif variable.column is not None:
            sources.append(variable.column)
    return sources


def _decode_answers(run: _Run, coding: str, issues: _Issues) -> list[_Answer]:
    """Each answer column's result per distinct value, and the issues of values that decode to nothing."""
    instrument = run.table.instrument
    run.distinct("respondents", [s for s in _answer_sources(instrument) if s in run])
    answers: list[_Answer] = []

    def distinct(name: str) -> Distinct:
        run.column(name)  # refused here if the header has the column twice
        return run.distinct("respondents", [name])[name]

    def add_issues(source: str, column: Distinct, bad: pd.Series | np.ndarray, rule: str) -> None:
        issues.add(run.rows_with("respondents", source, column.raw_where(bad)), source, rule)

    for name, variable in instrument.variables.items():
        if variable.kind == "multi_columns":
            for column_name, code in variable.columns.items():
                target = f"{_BOOK.variables[name].column_prefix}{code}"
                if column_name not in run:
                    answers.append(_Answer(target, None, constant="false"))
                    continue
                column = distinct(column_name)
                cells = column.values
                unknown = (cells != "") & (cells != variable.ticked)
                add_issues(column_name, column, unknown, "not_in_code_list")
                flags = (cells == variable.ticked).astype("boolean").where(~unknown)
                answers.append(_Answer(target, column_name, column, flags))
            continue
        if variable.column not in run:
            answers.append(_Answer(name, None))
            continue
        column = distinct(_source(variable))
        cells = column.values
        if variable.kind == "multi_joined":
            flags, rest = _split_joined_values(cells, variable, coding)
            unmatched = rest != ""
            rest_of = dict(zip(cells[unmatched].tolist(), rest[unmatched].tolist(), strict=True))
            found = run.rows_with("respondents", _source(variable), column.raw_where(unmatched))
            issues.add(found, _source(variable), "unknown_label", rest_of.get)
            prefix = _BOOK.variables[name].column_prefix
            for code in flags:
                answers.append(_Answer(f"{prefix}{code}", variable.column, column, pd.Series(flags[code])))
        elif variable.kind == "integer":
            numbers, bad_values, huge_values = _decode_integer(cells)
            add_issues(_source(variable), column, bad_values, "not_an_integer")
            add_issues(_source(variable), column, huge_values, "out_of_range")
            answers.append(_Answer(name, variable.column, column, numbers))
        elif variable.kind == "text":
            answers.append(_Answer(name, variable.column, column, cells.where(cells != "")))
        else:
            values, unknown_values = _decode_choice(cells, variable, coding)
            rule = "not_in_code_list" if coding == "numeric" else "unknown_label"
            add_issues(_source(variable), column, unknown_values, rule)
            answers.append(_Answer(name, variable.column, column, values))
    return answers


def _distinct_frame(answers: dict[str, _Answer], first_keys: list[str]) -> pd.DataFrame:
    """The answers' distinct values per schema column, as a frame to validate (row i holds value i;
    shorter columns repeat their last), as the answers of every respondent would give them.

    Every check of the harmonised-responses schema looks at one value at a time, except the uniqueness of
    respondent_key, which holds by construction (one respondent per ResponseId; its first keys stand in),
    and the index check (row numbers, all >= 1). So a value fails in this frame exactly where it fails in
    the answers, and pandera checks dozens of rows instead of every respondent.
    """
    distinct = {
        name: pd.factorize(_column_values(answer).array, use_na_sentinel=False)[1]
        for name, answer in answers.items()
        if name in _SCHEMA_COLUMNS
    }
    length = max((len(values) for values in distinct.values()), default=0)
    rows = np.arange(length)
    columns: dict[str, object] = {}
    for name in _SCHEMA_COLUMNS:
        if name == "respondent_key":
            columns[name] = first_keys[:length]
        elif name in distinct:
            columns[name] = distinct[name].take(np.minimum(rows, len(distinct[name]) - 1))
    return pd.DataFrame(columns, index=pd.RangeIndex(1, length + 1, name="row_number"))


def _column_values(answer: _Answer) -> pd.Series:
    """The values an answer column takes among the respondents (one per distinct source value)."""
    if answer.decoded is None:
        return pd.Series([pd.NA], dtype=object)
    return answer.decoded


def _validate(run: _Run, answers: list[_Answer], buckets: str, issues: _Issues) -> None:
    """Run the pandera schema lazily; every failing value becomes missing, and its cells issues."""
    by_name = {answer.name: answer for answer in answers}
    longest = max((len(a.column.values) for a in answers if a.column is not None), default=0)
    if not longest:
        return  # no respondents: no answers to check
    first_keys = [
        key
        for (key,) in run.con.execute(
            f"select respondent_key from {buckets} where bucket = 'respondent' order by rn limit ?",
            [longest],
        ).fetchall()
    ]
    frame = _distinct_frame(by_name, first_keys)
    try:
        _SCHEMA.validate(frame, lazy=True)
        return
    except pa.errors.SchemaErrors as err:
        failures = err.failure_cases
    cell_failures = failures[failures["index"].notna() & failures["column"].isin(list(by_name))]
    for (column, check), labels in cell_failures.groupby(["column", "check"], sort=False, dropna=False)[
        "index"
    ]:
        answer = by_name[column]
        if answer.decoded is None or answer.column is None or answer.source is None:
            continue  # nothing to set missing: the check below says what is wrong
        distinct = frame[column]
        failed_values = distinct.iloc[np.minimum(labels.astype(int).to_numpy() - 1, len(distinct) - 1)]
        failed = _matches(answer.decoded, failed_values)
        rule = str(check).split("(")[0]
        found = run.rows_with("respondents", answer.source, answer.column.raw_where(failed))
        issues.add(found, answer.source, CHECK_RULES.get(rule, rule))
        answer.decoded = answer.decoded.where(~failed)
    # Checked again only if something besides single values failed, or a value became missing where
    # missing is not allowed: otherwise nothing can fail now.
    sources = set(cell_failures["column"].unique())
    if len(cell_failures) < len(failures) or not all(_NULLABLE[column] for column in sources):
        _SCHEMA.validate(_distinct_frame(by_name, first_keys), lazy=True)  # what is left is a bug


def _matches(decoded: pd.Series, failed_values: pd.Series) -> np.ndarray:
    """Which decoded values are among the failed ones (missing matches missing)."""
    failed = {value for value in failed_values.tolist() if not _is_missing(value)}
    failed_missing = any(_is_missing(value) for value in failed_values.tolist())
    return np.array(
        [failed_missing if _is_missing(value) else value in failed for value in decoded.tolist()], dtype=bool
    )


def _sql_value(value: object, sql_type: str) -> object:
    value = _python(value)
    if value is None:
        return None
    if sql_type == "BIGINT":
        return int(value)  # type: ignore[call-overload]
    if sql_type == "BOOLEAN":
        return bool(value)
    return str(value)


def _result_tables(run: _Run, answers: list[_Answer]) -> dict[str, str]:
    """One table of every decoded answer per distinct cell of its export column (``k`` the column,
    ``v`` the cell as read, a column per answer, and the masked text of the free-text answers); sets
    each answer's SQL. Returns the join each answer needs, by answer."""
    sources: dict[str, int] = {}
    for answer in answers:
        if answer.source is not None and answer.decoded is not None and answer.column is not None:
            sources.setdefault(answer.source, len(sources))
    columns = {source: next(a.column for a in answers if a.source == source) for source in sources}
    keys: list[int] = []
    cells: list[str] = []
    for source, k in sources.items():
        raw = columns[source].raw  # type: ignore[union-attr]
        keys += [k] * len(raw)
        cells += raw
    results: dict[str, tuple[str, list[object]]] = {}
    joins: dict[str, str] = {}
    table = run.new_table("results", keep=True)

    def result(name: str, sql_type: str, source: str, per_value: list[object]) -> None:
        values: list[object] = []
        for other in sources:
            values += (
                columns[source].spread(per_value) if other == source else [None] * len(columns[other].raw)
            )  # type: ignore[union-attr]
        results[name] = (sql_type, values)

    for answer in answers:
        if answer.source is None or answer.decoded is None or answer.column is None:
            answer.sql = f"{answer.constant}::{answer.sql_type}"
            continue
        k = sources[answer.source]
        result(
            answer.name,
            answer.sql_type,
            answer.source,
            [_sql_value(v, answer.sql_type) for v in answer.decoded.tolist()],
        )
        answer.sql = f"d{k}.{answer.name}"
        joins[answer.name] = (
            f"left join {table} d{k} on d{k}.k = {k} and d{k}.v = r.{run.column(answer.source)}"
        )
        if answer.name in TEXT_VARIABLES:  # spec §6: e-mail addresses and phone numbers masked
            masked = [mask_contacts(v) if isinstance(v, str) else None for v in answer.decoded.tolist()]
            result(f"{answer.name}_masked", "VARCHAR", answer.source, masked)
            answer.masked_sql = f"d{k}.{answer.name}_masked"
    run.con.execute(
        f"create temp table {table} as select "
        + ", ".join(
            ["unnest(?::INTEGER[]) as k", "unnest(?::VARCHAR[]) as v"]
            + [f"unnest(?::{t}[]) as {name}" for name, (t, _) in results.items()]
        ),
        [keys, cells, *([_python(x) for x in xs] for _, xs in results.values())],
    )
    return joins


def _joins(joins: dict[str, str], names: Iterable[str]) -> str:
    """The joins these answers need (each table once)."""
    return " ".join(dict.fromkeys(joins[name] for name in names if name in joins))


def _apply_branches(
    run: _Run, answers: list[_Answer], joins: dict[str, str], issues: _Issues
) -> dict[str, str]:
    """Answers to questions the respondent was not shown (§2 "shown to") are issues, and missing.

    Returns, per answer column, the SQL condition under which it is missing for being off its branch.
    """
    instrument = run.table.instrument
    sql = {answer.name: answer.sql for answer in answers}
    off: dict[str, str] = {}
    for name, canonical in _BOOK.variables.items():
        condition = canonical.asked
        if not isinstance(condition, dict) or name not in instrument.variables:
            continue  # asked of every (consenting) respondent, or not asked by this instrument
        off_branch = (
            "("
            + " or ".join(
                f"{sql.get(gate, 'NULL')} is distinct from {sql_string(str(wanted))}"
                for gate, wanted in condition.items()
            )
            + ")"
        )
        gates = list(condition)
        variable = instrument.variables[name]
        targets = list(MULTI_COLUMNS.get(name, [name]))
        answered = (
            "(" + " or ".join(f"coalesce({sql.get(t, 'NULL')}, false)" for t in targets) + ")"
            if name in MULTI_COLUMNS
            else f"{sql.get(name, 'NULL')} is not null"
        )
        for source in variable.source_columns():
            rows = _Rows(
                f"select r.rn, r.{run.column(source)} as cell from {run.scopes['respondents']} r "
                f"{_joins(joins, [*gates, *targets])} where {off_branch} and {answered}",
                [],
            )
            issues.add(rows, source, "off_branch", lambda cell: cell or None)
        # Not shown means not answered: missing, not "no", for everyone off the branch.
        for target in targets:
            off[target] = off_branch
    return off


def _responses_view(
    run: _Run,
    rows: str,
    answers: list[_Answer],
    joins: dict[str, str],
    off: dict[str, str],
    survey_year: int,
) -> str:
    """Every raw row with its bucket; the respondents' answers, off their branch missing, free text with
    e-mail addresses and phone numbers masked (spec §6: per distinct value, joined). In file order: the
    rows side by side with their buckets, each joined to the (small) tables of results, no sort."""
    by_name = {answer.name: answer for answer in answers}
    selected = []
    for name in ANSWER_COLUMNS:
        answer = by_name.get(name)
        value = (answer.masked_sql or answer.sql) if answer else f"NULL::{_answer_type(name)}"
        if name in off:
            value = f"case when {off[name]} then NULL else {value} end"
        # Answers are the respondents' only.
        selected.append(
            f"(case when r.bucket = 'respondent' then {value} end)::{_answer_type(name)} as {name}"
        )
    view = temp_table_name("responses")
    run.con.execute(
        f"create temp view {view} as "
        f"select {int(survey_year)}::BIGINT as survey_year, r.rn::BIGINT as row_number, r.bucket, "
        f"r.respondent_key, r.recorded_at, {', '.join(selected)} from {rows} r {_joins(joins, ANSWER_COLUMNS)}"
    )
    return view


INSTRUMENT_ISSUE_RULE = "instrument_outside_its_years"


def _with_instrument_issue(issues: pd.DataFrame, instrument: Instrument, survey_year: int) -> pd.DataFrame:
    """Flag a delivery in an instrument the school did not use that year (spec §3: a v3 file dated
    before 2026, a v2 file dated 2026 or later): loaded as it is, with one issue on its header row."""
    if instrument.entry.used_in(survey_year):
        return issues
    flagged = pd.DataFrame(
        [{
            "row_number": 1,
            "column_name": "instrument_version",
            "original_value": f"{instrument.name} (used {instrument.entry.years_text()})",
            "rule": INSTRUMENT_ISSUE_RULE,
        }]
    )  # fmt: skip
    return pd.concat([flagged.astype(issues.dtypes.to_dict()), issues], ignore_index=True)


def harmonise(table: RawTable, survey_year: int, salt: str) -> HarmonisedDelivery:
    """Bucket, decode, validate and de-identify every row of one delivery.

    Args:
        table: the delivery as read by readers.read_delivery.
        survey_year: the year in the file name.
        salt: the ResponseId hash salt (SSM_RESPONSE_SALT).

    Returns:
        Every raw data row with its bucket (answers filled for respondents only), and the cell issues;
        the rows in DuckDB beside the delivery's cells until written (``close()`` when done).

    Raises:
        DeliveryError: the file as a whole cannot be trusted (values fit neither coding, wrong year).
    """
    instrument = table.instrument
    run = _Run(table)
    done = False
    try:
        _check_raw_shape(table)
        _read_all_rows(run, instrument)
        coding = _detect_coding(run, instrument)
        _check_values_fit(run, instrument, coding, table.file_name)
        issues = _Issues()
        meta = _metadata(run, instrument, coding)
        consent_variable = instrument.variables["consent"]
        consent_source = _source(consent_variable)
        # Refused for a second consent column only after the year (as the checks always came).
        consented = "true"
        if len(run.positions.get(consent_source, [])) == 1:
            column = run.distinct("all", [consent_source])[consent_source]
            consent, _ = _decode_choice(column.values, consent_variable, coding)
            consented = _in(column.raw_where(consent.eq("yes")), f"v.{run.column(consent_source)}")
        buckets = _assign_buckets(run, meta, consented, salt)
        counts, per_year = _counts(run.con, buckets)
        _check_year(per_year, survey_year, table.file_name)
        run.column(consent_source)
        run.scopes["respondents"] = f"(select * from {buckets} where bucket = 'respondent')"
        answers = _decode_answers(run, coding, issues)
        _validate(run, answers, buckets, issues)
        joins = _result_tables(run, answers)
        off = _apply_branches(run, answers, joins, issues)
        view = _responses_view(run, buckets, answers, joins, off, survey_year)
        issues.resolve(run.con)
        found = _with_instrument_issue(issues.frame(), instrument, survey_year)
        result = HarmonisedDelivery(instrument.name, coding, found, run.con, view, run.kept, counts)
        done = True
        return result
    finally:
        run.drop(run.scratch)
        if not done:
            run.drop(run.kept)
