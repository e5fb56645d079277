"""The survey's codebook (schemas/codebook.yaml), loaded and checked for contradictions.

The codebook is the one place that names the survey's variables, value sets, instruments, cohorts,
metrics, demographic characteristics and multi-select breakdowns. This module reads it into plain
frozen objects and refuses one that contradicts itself, naming the file, the entry and what to fix.
It imports nothing of the pipeline, so the readers, the pandera schemas, the dbt generator and the
report can all depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CODEBOOK_PATH = Path(__file__).resolve().parent / "codebook.yaml"

VARIABLE_TYPES = ("single", "integer", "multi", "text")
# How the warehouse stores each type (raw.responses); a multi variable is one boolean per answer.
_SQL_TYPES = {"integer": "integer", "text": "varchar"}


class CodebookError(ValueError):
    """The codebook contradicts itself or is not readable; the message says where and what to fix."""

    def __init__(self, path: Path, entry: str, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {entry}: {problem}. {fix}")
        self.path, self.entry, self.problem, self.fix = path, entry, problem, fix


@dataclass(frozen=True)
class Answer:
    """One answer of a value set: the value stored, its label, and the extras some sets carry."""

    value: str | int
    label: str
    group: str | None = None
    short: str | None = None


@dataclass(frozen=True)
class Wording:
    """A question's text from a survey year on (None: from the first survey)."""

    start: int | None
    question: str


@dataclass(frozen=True)
class Variable:
    """A canonical variable of spec §2."""

    name: str
    type: str
    values: tuple[Answer, ...]
    value_set: str | None
    range: tuple[int, int] | None
    asked: str | dict[str, Any]  # "all", "consented" or {variable: value}
    wordings: tuple[Wording, ...]
    column_prefix: str | None = None

    @property
    def value_list(self) -> list[str | int]:
        """The stored values, in the codebook's order."""
        return [answer.value for answer in self.values]

    @property
    def is_numeric(self) -> bool:
        """Whether the warehouse stores it as an integer (integer items and numeric value sets)."""
        return self.type == "integer" or (
            self.type == "single" and all(isinstance(v, int) for v in self.value_list)
        )

    def columns(self) -> list[tuple[str, str]]:
        """The warehouse columns (name, DuckDB type) that hold this variable."""
        if self.type == "multi":
            return [(f"{self.column_prefix}{value}", "boolean") for value in self.value_list]
        return [(self.name, "integer" if self.is_numeric else _SQL_TYPES.get(self.type, "varchar"))]

    def wording_in(self, year: int) -> Wording:
        """The wording asked in survey year `year`."""
        current = self.wordings[0]
        for wording in self.wordings[1:]:
            if wording.start is not None and wording.start <= year:
                current = wording
        return current

    def series_starts(self) -> list[int]:
        """The survey years from which a new wording starts a new series (none for one wording)."""
        return [w.start for w in self.wordings[1:] if w.start is not None]


@dataclass(frozen=True)
class InstrumentEntry:
    """An export layout as the codebook lists it: its years and its mapping file."""

    name: str
    label: str
    first_year: int | None
    last_year: int | None
    mapping: Path
    offers: dict[str, tuple[str | int, ...]]

    def used_in(self, year: int) -> bool:
        """Whether this was the school's instrument in survey year `year`."""
        return (self.first_year is None or year >= self.first_year) and (
            self.last_year is None or year <= self.last_year
        )

    def years_text(self) -> str:
        """The years as a reader says them: "2020-2025", "up to 2019", "2026 on"."""
        if self.first_year is None:
            return f"up to {self.last_year}"
        if self.last_year is None:
            return f"{self.first_year} on"
        return f"{self.first_year}-{self.last_year}"


@dataclass(frozen=True)
class Cohort:
    """A cohort of spec §7 and its rule (all conditions hold; `otherwise`: everyone left)."""

    name: str
    label: str
    description: str
    rule: dict[str, Any]
    otherwise: bool
    compared: bool
    total: str


@dataclass(frozen=True)
class Metric:
    """A metric of marts.metric_summary: the share whose answer to `variable` is in `yes`."""

    metric_id: str
    variable: str
    yes: tuple[str | int, ...]
    answer: str  # "agree" or "yes": how the report words it
    cohorts: tuple[str, ...]  # the cohorts the report shows
    compared: bool  # in cohort_comparisons
    label: str
    clause: str
    headline: str | None = None  # the words after its share in the report's headline (one metric)


@dataclass(frozen=True)
class Characteristic:
    """A demographic characteristic of marts.demographic_balance."""

    name: str
    variable: str
    grouped_by: str | None
    label: str
    reader_name: str
    tested: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Breakdown:
    """A multi-select variable broken down by its answers among one cohort."""

    name: str
    variable: str
    cohort: str


@dataclass(frozen=True, eq=False)
class Codebook:
    """The survey as schemas/codebook.yaml declares it."""

    path: Path
    value_sets: dict[str, tuple[Answer, ...]]
    specialty_groups: tuple[Answer, ...]
    variables: dict[str, Variable]
    instruments: dict[str, InstrumentEntry]
    cohorts: dict[str, Cohort]
    metrics: dict[str, Metric]
    characteristics: dict[str, Characteristic]
    breakdowns: dict[str, Breakdown]

    def answer_columns(self) -> list[tuple[str, str]]:
        """Every warehouse column of raw.responses that holds an answer, in codebook order."""
        return [column for variable in self.variables.values() for column in variable.columns()]

    def offered(self, instrument: str, variable: str) -> tuple[str | int, ...]:
        """The answers of `variable` that `instrument` offered (all of them unless the codebook says)."""
        entry = self.instruments[instrument]
        return entry.offers.get(variable, tuple(self.variables[variable].value_list))

    def instrument_of_year(self, year: int) -> InstrumentEntry | None:
        """The instrument the school used in survey year `year`, if the codebook knows one."""
        return next((i for i in self.instruments.values() if i.used_in(year)), None)

    def metric_variables(self) -> list[str]:
        """The variables behind the metrics, each once, in codebook order."""
        return list(dict.fromkeys(metric.variable for metric in self.metrics.values()))


def _answers(raw: Any, path: Path, entry: str) -> tuple[Answer, ...]:
    if not isinstance(raw, list) or not raw:
        raise CodebookError(
            path, entry, "is not a list of answers", "Give a list of {value: ..., label: ...}."
        )
    answers = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "value" not in item or "label" not in item:
            raise CodebookError(
                path, f"{entry}[{i}]", "has no value or label", "Give both, as {value: ..., label: ...}."
            )
        answers.append(Answer(item["value"], str(item["label"]), item.get("group"), item.get("short")))
    values = [a.value for a in answers]
    if len(set(values)) != len(values):
        raise CodebookError(path, entry, "lists a value twice", "Give each value once.")
    return tuple(answers)


def _section(raw: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    section = raw.get(name)
    if not isinstance(section, dict) or not section:
        raise CodebookError(
            path, name, "is missing or empty", f"Add the {name} section (see docs/changing-the-survey.md)."
        )
    return section


def _variable(
    name: str, raw: dict[str, Any], value_sets: dict[str, tuple[Answer, ...]], path: Path
) -> Variable:
    entry = f"variables.{name}"
    kind = raw.get("type")
    if kind not in VARIABLE_TYPES:
        raise CodebookError(path, entry, f"has type {kind!r}", f"Use one of {', '.join(VARIABLE_TYPES)}.")
    value_set = raw.get("values")
    values: tuple[Answer, ...] = ()
    if kind in ("single", "multi"):
        if value_set not in value_sets:
            raise CodebookError(
                path, entry, f"uses the value set {value_set!r}, which value_sets does not define",
                f"Name one of {', '.join(value_sets)}, or add it to value_sets.",
            )  # fmt: skip
        values = value_sets[value_set]
    bounds = raw.get("range")
    if kind == "integer" and not (isinstance(bounds, list) and len(bounds) == 2 and bounds[0] <= bounds[1]):
        raise CodebookError(
            path, entry, "is an integer without a range [low, high]", "Add range: [low, high]."
        )
    if kind == "multi" and not raw.get("column_prefix"):
        raise CodebookError(
            path, entry, "is a multi-select without column_prefix", "Add column_prefix: <name>_."
        )
    if not raw.get("question"):
        raise CodebookError(path, entry, "has no question", "Add the question as the survey words it.")
    wordings = [Wording(None, str(raw["question"]))]
    for i, rewording in enumerate(raw.get("rewordings") or []):
        start = rewording.get("from") if isinstance(rewording, dict) else None
        if not isinstance(start, int) or not rewording.get("question"):
            raise CodebookError(
                path, f"{entry}.rewordings[{i}]", "needs from (a survey year) and question", "Add both."
            )
        if wordings[-1].start is not None and start <= wordings[-1].start:
            raise CodebookError(
                path,
                f"{entry}.rewordings[{i}]",
                "is not later than the rewording before it",
                "List rewordings oldest first.",
            )
        wordings.append(Wording(start, str(rewording["question"])))
    asked = raw.get("asked", "consented")
    return Variable(
        name=name,
        type=kind,
        values=values,
        value_set=value_set if kind in ("single", "multi") else None,
        range=(int(bounds[0]), int(bounds[1])) if kind == "integer" else None,
        asked=asked,
        wordings=tuple(wordings),
        column_prefix=raw.get("column_prefix"),
    )


def _check_condition(
    condition: Any, variables: dict[str, Variable], path: Path, entry: str
) -> dict[str, Any]:
    """A condition {variable: value, ...} on single-choice variables, with values in their value sets."""
    if not isinstance(condition, dict) or not condition:
        raise CodebookError(
            path, entry, "is not a condition {variable: value}", 'Write it as {mentor_formal: "yes"}.'
        )
    for name, value in condition.items():
        variable = variables.get(name)
        if variable is None:
            raise CodebookError(
                path,
                entry,
                f"names the variable {name!r}, which variables does not define",
                "Name a variable of the codebook.",
            )
        if variable.type != "single" or value not in variable.value_list:
            raise CodebookError(
                path, entry, f"asks for {name} = {value!r}, which is not in its value set {variable.value_list}",
                "Use a value of the variable's value set (quote yes and no: \"yes\").",
            )  # fmt: skip
    return dict(condition)


def _variable_of(spec: dict[str, Any], variables: dict[str, Variable], path: Path, entry: str) -> Variable:
    """The variable an entry (a metric, a characteristic) is on; refused when the codebook has none."""
    variable = variables.get(spec.get("variable"))
    if variable is None:
        raise CodebookError(
            path,
            entry,
            f"is on the variable {spec.get('variable')!r}, which variables does not define",
            "Name a variable of the codebook.",
        )
    return variable


def load_codebook(path: Path = CODEBOOK_PATH) -> Codebook:
    """Read and check a codebook file.

    Raises:
        CodebookError: the file is unreadable or contradicts itself (the message names the entry).
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise CodebookError(
            path, "the file", f"cannot be read ({err})", "Fix the YAML syntax or the path."
        ) from None
    if not isinstance(raw, dict):
        raise CodebookError(
            path, "the file", "is not a mapping of sections", "See docs/changing-the-survey.md."
        )

    value_sets = {
        name: _answers(items, path, f"value_sets.{name}")
        for name, items in _section(raw, "value_sets", path).items()
    }
    groups = _answers(raw.get("specialty_groups") or [], path, "specialty_groups")
    variables = {
        name: _variable(name, spec or {}, value_sets, path)
        for name, spec in _section(raw, "variables", path).items()
    }
    for name, variable in variables.items():
        if isinstance(variable.asked, dict):
            _check_condition(variable.asked, variables, path, f"variables.{name}.asked")
        elif variable.asked not in ("all", "consented"):
            raise CodebookError(
                path,
                f"variables.{name}.asked",
                f"is {variable.asked!r}",
                "Use all, consented or a condition {variable: value}.",
            )
        if variable.value_set == "specialties":
            known = {g.value for g in groups}
            for answer in variable.values:
                if answer.group not in known:
                    raise CodebookError(
                        path,
                        f"value_sets.specialties {answer.value}",
                        f"has the group {answer.group!r}, which specialty_groups does not list",
                        "Add the group to specialty_groups or fix it.",
                    )

    instruments: dict[str, InstrumentEntry] = {}
    for name, spec in _section(raw, "instruments", path).items():
        entry = f"instruments.{name}"
        years = spec.get("years")
        if not (isinstance(years, list) and len(years) == 2):
            raise CodebookError(
                path, entry, "has no years [first, last]", "Give years: [first, last] (null for open)."
            )
        first, last = years
        if first is not None and last is not None and first > last:
            raise CodebookError(
                path, entry, f"has years {first}-{last}, the first after the last", "Swap them."
            )
        mapping = path.parent / "instruments" / str(spec.get("mapping", ""))
        if not spec.get("mapping") or not mapping.is_file():
            raise CodebookError(
                path,
                entry,
                f"names the mapping file {mapping}, which does not exist",
                "Add the mapping file under schemas/instruments/ or fix the name.",
            )
        offers: dict[str, tuple[str | int, ...]] = {}
        for variable_name, offered in (spec.get("offers") or {}).items():
            variable = variables.get(variable_name)
            if variable is None or variable.type != "multi":
                raise CodebookError(
                    path,
                    f"{entry}.offers.{variable_name}",
                    "is not a multi-select variable of the codebook",
                    "Name a variable of type multi.",
                )
            unknown = [v for v in offered if v not in variable.value_list]
            if unknown:
                raise CodebookError(
                    path,
                    f"{entry}.offers.{variable_name}",
                    f"offers {unknown}, which are not in its value set",
                    "Add them to the value set or fix the list.",
                )
            offers[variable_name] = tuple(offered)
        instrument = InstrumentEntry(name, str(spec.get("label", name)), first, last, mapping, offers)
        for other in instruments.values():
            low = max(
                first if first is not None else -(10**9),
                other.first_year if other.first_year is not None else -(10**9),
            )
            high = min(
                last if last is not None else 10**9, other.last_year if other.last_year is not None else 10**9
            )
            if low <= high:
                raise CodebookError(
                    path,
                    entry,
                    f"claims the survey years of {other.name} ({other.years_text()})",
                    "Give each instrument its own years: one instrument per survey year.",
                )
        instruments[name] = instrument

    cohorts: dict[str, Cohort] = {}
    for name, spec in _section(raw, "cohorts", path).items():
        entry = f"cohorts.{name}"
        otherwise = bool(spec.get("otherwise", False))
        rule = {} if otherwise else _check_condition(spec.get("rule"), variables, path, f"{entry}.rule")
        cohorts[name] = Cohort(
            name,
            str(spec.get("label", name)),
            str(spec.get("description", "")),
            rule,
            otherwise,
            bool(spec.get("compared", False)),
            str(spec.get("total", name)),
        )
    if sum(c.otherwise for c in cohorts.values()) != 1 or not list(cohorts.values())[-1].otherwise:
        raise CodebookError(
            path,
            "cohorts",
            "needs exactly one cohort with otherwise: true, listed last",
            "Every respondent must end in one cohort.",
        )
    if sum(c.compared for c in cohorts.values()) != 2:
        raise CodebookError(
            path,
            "cohorts",
            "needs exactly two cohorts with compared: true",
            "The comparisons set two cohorts against each other.",
        )

    metrics: dict[str, Metric] = {}
    for metric_id, spec in _section(raw, "metrics", path).items():
        entry = f"metrics.{metric_id}"
        variable = _variable_of(spec, variables, path, entry)
        if variable.type != "single":
            raise CodebookError(
                path,
                entry,
                f"is on {variable.name}, a {variable.type} variable",
                "A metric needs a single-choice variable.",
            )
        yes = spec.get("yes") or []
        if not yes or any(v not in variable.value_list for v in yes):
            raise CodebookError(
                path,
                f"{entry}.yes",
                f"is {yes}, not values of {variable.name} ({variable.value_list})",
                'List the values that count as yes (quote "yes").',
            )
        shown = spec.get("cohorts") or []
        known = ["all", *(c.name for c in cohorts.values() if c.compared)]
        if not shown or any(c not in known for c in shown):
            raise CodebookError(path, f"{entry}.cohorts", f"is {shown}", f"Use some of {', '.join(known)}.")
        if spec.get("answer") not in ("agree", "yes"):
            raise CodebookError(path, f"{entry}.answer", f"is {spec.get('answer')!r}", 'Use agree or "yes".')
        for key in ("label", "clause"):
            if not spec.get(key):
                raise CodebookError(path, entry, f"has no {key}", f"Add the {key} the report uses.")
        metrics[metric_id] = Metric(
            metric_id,
            variable.name,
            tuple(yes),
            str(spec["answer"]),
            tuple(shown),
            bool(spec.get("compared", False)),
            str(spec["label"]),
            str(spec["clause"]),
            str(spec["headline"]) if spec.get("headline") else None,
        )
    headlines = [m.metric_id for m in metrics.values() if m.headline]
    if len(headlines) > 1:
        raise CodebookError(
            path,
            "metrics",
            f"gives a headline to {', '.join(headlines)}",
            "Give the headline to one metric only.",
        )

    characteristics: dict[str, Characteristic] = {}
    for name, spec in _section(raw, "characteristics", path).items():
        entry = f"characteristics.{name}"
        variable = _variable_of(spec, variables, path, entry)
        levels = [g.value for g in groups] if spec.get("grouped_by") else variable.value_list
        tested = spec.get("tested") or []
        if any(level not in levels for level in tested):
            raise CodebookError(
                path,
                f"{entry}.tested",
                f"is {tested}, not all levels of {name} ({levels})",
                "List levels of the characteristic.",
            )
        # demographic_balance has a test for a number, and for 2 or 3 tested levels (spec §8).
        if variable.type != "integer" and len(tested) not in (2, 3):
            raise CodebookError(
                path,
                f"{entry}.tested",
                f"lists {len(tested)} levels; the balance tests compare 2 levels (Fisher) or 3 (chi-square)",
                "Test 2 or 3 of its levels, or write its test in dbt_project/macros/balance_tests.sql.",
            )
        characteristics[name] = Characteristic(
            name,
            variable.name,
            spec.get("grouped_by"),
            str(spec.get("label", name)),
            str(spec.get("name", name)),
            tuple(tested),
            str(spec.get("note", "")),
        )

    breakdowns: dict[str, Breakdown] = {}
    for name, spec in (raw.get("breakdowns") or {}).items():
        entry = f"breakdowns.{name}"
        variable = variables.get(spec.get("variable"))
        if variable is None or variable.type != "multi":
            raise CodebookError(
                path,
                entry,
                f"is on {spec.get('variable')!r}, not a multi-select variable of the codebook",
                "Name a variable of type multi.",
            )
        if spec.get("cohort") not in cohorts:
            raise CodebookError(
                path, f"{entry}.cohort", f"is {spec.get('cohort')!r}", f"Use one of {', '.join(cohorts)}."
            )
        breakdowns[name] = Breakdown(name, variable.name, spec["cohort"])

    return Codebook(
        path, value_sets, groups, variables, instruments, cohorts, metrics, characteristics, breakdowns
    )


@cache
def codebook() -> Codebook:
    """The project's codebook, schemas/codebook.yaml."""
    return load_codebook(CODEBOOK_PATH)
