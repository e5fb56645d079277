"""The report's vocabulary: how each metric, cohort, answer, group and rule is named for a reader.

The survey's words come from its codebook (schemas/codebook.yaml, loaded by ``schemas.codebook``):
the metrics and their labels, clauses and question wordings by year, the answer levels, the cohorts,
the demographic characteristics and their tests, the reasons' short names and the instruments. A
new metric or a reworded question is a codebook entry, never an edit here. What the codebook does not
cover (the exclusion buckets of spec §5, the names of the tests and of the data-quality rules) is
written out below.

One place for the words; the figures come from the marts (``report_marts``), their protection from
``report_figures`` and the sentences from ``report_data``.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.codebook import Codebook, Variable, codebook
from schemas.instruments import instruments


@dataclass(frozen=True)
class Metric:
    """How one §8 metric is named and worded in the report."""

    metric_id: str
    label: str  # short name for tables and charts
    variable: Variable  # the codebook's variable the metric asks: its wordings by year
    clause: str  # the statement, lower-case, to follow "agree that ..."
    answer: str  # what counts: "agree" (4 or 5) or "yes"
    cohorts: tuple[str, ...]  # cohorts shown in tables, trends and charts
    levels: tuple[str, ...]  # answer levels of item_distributions, in display order
    yes_levels: tuple[str, ...]  # the levels that count as agreeing / yes
    compared: bool  # whether mentors are compared with non-mentors on it (cohort_comparisons)

    def question_in(self, year: int) -> str:
        """The question as the survey of ``year`` asked it."""
        return self.variable.wording_in(year).question


def _metrics(book: Codebook) -> dict[str, Metric]:
    metrics = {}
    for metric_id, m in book.metrics.items():
        variable = book.variables[m.variable]
        # item_distributions stores the level as text: "1".."5", "yes", "no", "unsure".
        metrics[metric_id] = Metric(
            metric_id=metric_id,
            label=m.label,
            variable=variable,
            clause=m.clause,
            answer=m.answer,
            cohorts=m.cohorts,
            levels=tuple(str(v) for v in variable.value_list),
            yes_levels=tuple(str(v) for v in m.yes),
            compared=m.compared,
        )
    return metrics


def _level_names(book: Codebook) -> dict[str, str]:
    names: dict[str, str] = {}
    for m in book.metrics.values():
        for answer in book.variables[m.variable].values:
            names.setdefault(str(answer.value), answer.label)
    return names


def _characteristics(book: Codebook) -> dict[str, tuple[str, tuple[str, ...]]]:
    out = {}
    for name, c in book.characteristics.items():
        if c.grouped_by:
            levels = tuple(str(g.value) for g in book.specialty_groups)
        else:
            levels = tuple(str(v) for v in book.variables[c.variable].value_list)
        out[name] = (c.label, levels)
    return out


def _demographic_levels(book: Codebook) -> dict[str, str]:
    names: dict[str, str] = {}
    for c in book.characteristics.values():
        answers = book.specialty_groups if c.grouped_by else book.variables[c.variable].values
        for answer in answers:
            names.setdefault(str(answer.value), answer.label)
    return names


def _reason_short_labels(book: Codebook) -> dict[int, str]:
    out: dict[int, str] = {}
    for breakdown in book.breakdowns.values():
        for answer in book.variables[breakdown.variable].values:
            if answer.short and isinstance(answer.value, int):
                out.setdefault(answer.value, answer.short)
    return out


def _v1_column_variables() -> dict[str, str]:
    """Export column -> variable in the v1 mapping, where the column is not named after the variable.

    A multi-select spread over columns (Q12_1..Q12_6) is also named by their common stem (Q12).
    """
    v1 = next((i for i in instruments() if i.name == "v1"), None)
    if v1 is None:
        return {}
    out: dict[str, str] = {}
    for name, variable in v1.variables.items():
        columns = variable.source_columns()
        for column in columns:
            if column != name:
                out[column] = name
        if variable.kind == "multi_columns" and columns:
            stems = {column.rsplit("_", 1)[0] for column in columns}
            if len(stems) == 1:
                out.setdefault(stems.pop(), name)
    return out


_BOOK = codebook()

METRICS: dict[str, Metric] = _metrics(_BOOK)
#: The metrics on which mentors are compared with non-mentors (asked of every respondent).
VALUE_ITEMS = tuple(m for m, metric in METRICS.items() if metric.compared)
#: The other metrics: asked of mentors only (a new one joins this section by its codebook entry).
MENTOR_ITEMS = tuple(m for m, metric in METRICS.items() if not metric.compared)

#: The metric in the headline (its share of all respondents, then these words), if the codebook names one.
HEADLINE_METRIC, HEADLINE_WORDS = next(
    ((m, b.headline) for m, b in _BOOK.metrics.items() if b.headline), (None, "")
)

#: Answer levels (as item_distributions stores them) -> the words of the answer list.
LEVEL_NAMES = _level_names(_BOOK)

COHORT_LABELS = {"all": "All respondents", **{name: c.label for name, c in _BOOK.cohorts.items()}}

#: Buckets of responses that are not counted (spec §5), in the order they are applied.
EXCLUSIONS = (
    ("preview", "Preview, test or spam", "Test runs by staff, previews and spam, not students' answers."),
    ("incomplete", "Not finished", "Started the survey but did not submit it."),
    ("no_consent", "Did not consent", "Declined the consent question, so no answers are used."),
    ("duplicate", "Duplicate", "An earlier copy of a response that was submitted again; the latest is kept."),
    ("rejected", "Unreadable", "A row that could not be read at all."),
)

#: The cohorts of spec §7: (response_funnel column, cohort code, label, description, compared).
COHORTS_FLOW = tuple((c.total, name, c.label, c.description, c.compared) for name, c in _BOOK.cohorts.items())

#: Demographic characteristics: code -> (label, levels in display order; age has none).
CHARACTERISTICS = _characteristics(_BOOK)
CHARACTERISTIC_NAMES = {name: c.reader_name for name, c in _BOOK.characteristics.items()}

DEMOGRAPHIC_LEVELS = _demographic_levels(_BOOK)

#: Which levels enter each test (spec §8): gender compares female with male only, specialty_group
#: leaves out not_matched.
TESTED_LEVELS = {name: c.tested for name, c in _BOOK.characteristics.items() if c.tested}

TEST_LABELS = {
    "fisher_exact": "Fisher's exact test",
    "chi_square": "Chi-square test",
    "welch_t": "Welch's t-test",
}

TEST_NOTES = {name: c.note for name, c in _BOOK.characteristics.items()}

#: Column headings of the reasons-over-the-years table (the full labels are in the table's caption).
REASON_SHORT_LABELS = _reason_short_labels(_BOOK)

DQ_RULE_LABELS = {
    "not_an_integer": "Not a whole number",
    "out_of_range": "Outside the allowed range",
    "not_in_code_list": "Code not in the answer list",
    "unknown_label": "Answer text not in the answer list",
    "off_branch": "Answer to a question the respondent was not meant to see",
    "instrument_outside_its_years": "Survey version not the one used that year",
}

# v1 exports name columns Q1..Q13; say which question they are so the appendix reads without the codebook.
V1_COLUMN_VARIABLES = _v1_column_variables()

INSTRUMENT_LABELS = {name: entry.label for name, entry in _BOOK.instruments.items()}
