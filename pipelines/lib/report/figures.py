"""One survey year's report figures as a disclosure model, and how each may be shown.

:func:`year_figures` turns a year's marts (``report_marts.YearMarts``) into the groups of people
behind every figure the report prints (``disclosure.Model``) and decides with ``disclosure.protect``
which may be shown. Everything the report prints about a year, in its own report and in later
years' history tables, goes through the :class:`YearFigures` of that year, so a year's figures are
hidden the same way wherever they appear, and that way depends on the year's own data only.

What counts as a group to protect (docs/decisions.md, "Small cells"): every count the report prints;
the complement of every percentage it prints; every group of answers, including the informal and
unclassified respondents behind "all respondents". Not protected: how many skipped a question (the
gap between a cohort and those who answered an item, or gave a reason). A skip reveals no answer,
and in the demonstration years 67 of the 110 item-by-cohort shares have 1 to 4 skips: protecting
them would hide most of the report to protect nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.lib.report import disclosure
from pipelines.lib.report import labels as report_labels
from pipelines.lib.report import marts as report_marts
from pipelines.lib.report.disclosure import Model, Protection, State, Unprotectable, feasible_range, protect
from pipelines.lib.report.formatting import interval_percent, percent
from pipelines.lib.report.labels import CHARACTERISTICS, EXCLUSIONS, METRICS, TESTED_LEVELS, VALUE_ITEMS
from pipelines.lib.report.marts import ReportDataError, YearMarts
from schemas.codebook import CODEBOOK_PATH

#: Shown instead of a figure whose denominator is 0 (spec §8).
NO_DATA = "no data"
#: Shown instead of a figure that would reveal a group smaller than k (not itself small).
NOT_SHOWN = "not shown"

# Cost of hiding a figure when more must be hidden: lower goes first. The comparison of mentors
# with non-mentors is the report's subject, so its counts and the cohorts' sizes go last; a
# distribution's cells, a data-quality row or an exclusion bucket go first.
PRIORITY = {
    "distribution": 5,
    "dq_row": 8,
    "dq_total": 9,
    "bucket": 10,
    "demo_unknown": 15,
    "demo_level": 20,
    "reason": 25,
    "item_all_yes": 30,
    "item_all_answered": 35,
    "balance_test": 40,
    "cohort_excluded": 45,
    "excluded_total": 50,
    "item_yes": 55,
    "ratio": 60,
    "received": 65,
    "item_answered": 70,
    "class_size": 80,
    "reason_answered": 85,
    "demo_known": 92,
    "respondents": 95,
    "cohort_compared": 99,
}

DISTRIBUTION_COHORTS = ("mentor", "non_mentor")
OTHERS = "other"  # informal and unclassified respondents together: in "all", never printed
FLOW_COHORTS = {
    "mentor": "mentors",
    "non_mentor": "non_mentors",
    "informal": "informal",
    "unclassified": "unclassified",
}


def item(metric_id: str, cohort: str, part: str) -> str:
    """Figure name of an item's count: part ``yes`` (agreed / said yes) or ``answered``."""
    return f"{metric_id}.{cohort}.{part}"


def level(metric_id: str, cohort: str, answer: str) -> str:
    """Figure name of one answer level of an item in one cohort."""
    return f"{metric_id}.{cohort}.level.{answer}"


def demographic(characteristic: str, cohort: str, value: str) -> str:
    """Figure name of a demographic level, ``unknown`` (not answered) or ``known`` (answered)."""
    return f"{characteristic}.{cohort}.{value}"


@dataclass
class YearFigures:
    """A survey year's marts with the protection of every figure the report may print."""

    marts: YearMarts
    model: Model
    protection: Protection

    @property
    def year(self) -> int:
        return self.marts.year

    @property
    def k(self) -> int:
        return self.protection.k

    def omitted(self, breakdown: str) -> bool:
        """Whether a whole breakdown is left out of the report (nothing less protects its groups)."""
        return breakdown in self.protection.omitted

    def has(self, figure: str) -> bool:
        return figure in self.model.figures

    def asked(self, metric_id: str) -> bool:
        """Whether the year's survey asked the metric's question: the marts have rows for it that year
        (a metric added later has none before its first year, which is not "no data")."""
        return any(metric == metric_id for metric, _ in self.marts.metrics)

    def value(self, figure: str) -> int:
        return self.model.figures[figure].value

    def count(self, figure: str) -> dict[str, Any]:
        """A printed count: the number, "<k" (1..k-1) or "not shown"."""
        state = self.protection.state(figure)
        fig = f"{self.year}:{figure}"
        if state is State.SHOWN:
            return cell(str(self.value(figure)), fig=fig)
        if state is State.SMALL:
            return cell(f"<{self.k}", masked=True, fig=fig)
        return cell(NOT_SHOWN, masked=True, fig=fig)

    def share(
        self, numerator: str, denominator: str, ci: tuple[float | None, float | None] | None = None
    ) -> dict[str, Any]:
        """A printed percentage, with its interval when ``ci`` is given.

        Returns:
            A cell with ``text`` (percentage and interval), ``percent``, ``ci`` (interval text or ""),
            ``kind`` ("value", "more_than", "less_than", "hidden", "no_data"), ``bound`` (0..1 for
            the bound kinds) and ``proportion``/``ci_low``/``ci_high`` for charts (values only).
        """
        x, n = self.value(numerator), self.value(denominator)
        display = self.protection.share_display(numerator, denominator)
        fig = f"{self.year}:{numerator}/{denominator}"
        base = {
            "kind": display,
            "bound": None,
            "proportion": None,
            "ci_low": None,
            "ci_high": None,
            "fig": fig,
        }
        if display == "no_data":
            return {**cell(NO_DATA, no_data=True), **base, "percent": NO_DATA, "ci": ""}
        if display == "shown":
            percent_text = percent(x / n)
            ci_text = ""
            if ci is not None and ci[0] is not None and ci[1] is not None:
                ci_text = f"95% CI {interval_percent(ci[0], ci[1])}"
            text = f"{percent_text} ({ci_text})" if ci_text else percent_text
            return {
                **cell(text),
                **base,
                "kind": "value",
                "percent": percent_text,
                "ci": ci_text,
                "proportion": x / n,
                "ci_low": ci[0] if ci else None,
                "ci_high": ci[1] if ci else None,
            }
        bound = share_bound(display, n, self.k)
        if bound is None:
            return {**cell(NOT_SHOWN, masked=True), **base, "kind": "hidden", "percent": NOT_SHOWN, "ci": ""}
        text = f"{'more' if display == 'more_than' else 'less'} than {bound}%"
        return {**cell(text, masked=True), **base, "bound": bound / 100, "percent": text, "ci": ""}

    def feasible(self, figure: str) -> tuple[int, float]:
        """The values a reader of this year's report can still take a figure to be (lowest, highest)."""
        if self.protection.state(figure) is State.SHOWN:
            return self.value(figure), self.value(figure)
        return feasible_range(self.model, self.protection, figure)

    def statistic_shown(self, name: str) -> bool:
        return name in self.model.statistics and self.protection.statistic_shown(name)


def cell(text: str, *, masked: bool = False, no_data: bool = False, fig: str = "") -> dict[str, Any]:
    """One display-ready value: what the reader sees and whether it hides something or has no data."""
    return {"text": text, "masked": masked, "no_data": no_data, "fig": fig}


def no_share() -> dict[str, Any]:
    """A share with nothing to compute (no one was asked, or the year has no class size)."""
    return {
        **cell(NO_DATA, no_data=True),
        "kind": "no_data",
        "percent": NO_DATA,
        "ci": "",
        "bound": None,
        "proportion": None,
        "ci_low": None,
        "ci_high": None,
    }


def phrase(*pieces: str | Mapping[str, Any], masked: bool = False) -> dict[str, Any]:
    """A sentence whose figures stay tagged: text pieces and cells (their ``fig`` kept for the page).

    Returns:
        ``{"text", "parts", "masked"}``: the whole text (for the plain-text e-mail and the subject),
        the parts (each ``{"text", "fig"}``) and whether anything in it is hidden.
    """
    parts: list[dict[str, str]] = []
    for piece in pieces:
        if isinstance(piece, str):
            if parts and not parts[-1]["fig"]:
                parts[-1]["text"] += piece
            else:
                parts.append({"text": piece, "fig": ""})
            continue
        masked = masked or bool(piece.get("masked"))
        if "parts" in piece:  # a phrase inside a phrase
            for part in piece["parts"]:
                if part["fig"] or not parts or parts[-1]["fig"]:
                    parts.append(dict(part))
                else:
                    parts[-1]["text"] += part["text"]
            continue
        parts.append({"text": str(piece["text"]), "fig": str(piece.get("fig") or "")})
    return {"text": "".join(p["text"] for p in parts), "parts": parts, "masked": masked}


def join_phrases(phrases: Sequence[Mapping[str, Any]], separator: str = " ") -> dict[str, Any]:
    """Phrases one after the other as one sentence (or paragraph)."""
    pieces: list[str | Mapping[str, Any]] = []
    for i, p in enumerate(phrases):
        if i:
            pieces.append(separator)
        pieces.append(p)
    return phrase(*pieces)


def percent_of(share: Mapping[str, Any]) -> dict[str, Any]:
    """A share's percentage (or bound) as a cell for a sentence, tagged like the share in tables."""
    return {"text": share["percent"], "fig": share.get("fig", ""), "masked": share.get("masked", False)}


def share_bound(display: str, n: int, k: int) -> int | None:
    """The whole percent, a multiple of 5, that "<k" alone already implies for a hidden share of n.

    "more than B%" when fewer than k did not agree: B is the largest multiple of 5 below (n-k+1)/n;
    "less than B%" when fewer than k agreed: B is the smallest multiple of 5 above (k-1)/n. None when
    the bound would say nothing (0% or 100%).
    """
    if display == "more_than":
        bound = 5 * math.floor((100 * (n - k + 1) / n - 1e-9) / 5)
        return bound if bound > 0 else None
    if display == "less_than":
        bound = 5 * math.ceil((100 * (k - 1) / n + 1e-9) / 5)
        return bound if bound < 100 else None
    return None


class ProtectionCache:
    """What each year's report may show, kept between runs in a folder of the data folder.

    Deciding costs 0.2-0.6 s of CPU a year, and every report needs every year up to its own: without
    this, a yearly load over 40 years decides 40 years again. An entry is used only when its key
    matches: the year's marts (every row the report reads), k, and the source of the modules that
    decide (so a code change decides again).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, year: int) -> Path:
        return self.folder / f"{year}.json"

    @staticmethod
    def key(marts: YearMarts, k: int) -> str:
        content = json.dumps(
            {name: _plain(getattr(marts, name)) for name in sorted(vars(marts))}, sort_keys=True, default=str
        )
        return hashlib.sha256(f"{_deciding_source()}|{k}|{content}".encode()).hexdigest()

    def load(self, marts: YearMarts, k: int, model: Model) -> Protection | None:
        """The stored decision for this year's marts and k, or None."""
        try:
            entry = json.loads(self._path(marts.year).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if entry.get("key") != self.key(marts, k) or set(entry["states"]) != set(model.figures):
            return None
        return Protection(
            k,
            {name: State(state) for name, state in entry["states"].items()},
            dict(entry["statistics"]),
            model,
            frozenset(entry["omitted"]),
        )

    def store(self, marts: YearMarts, k: int, protection: Protection) -> None:
        """Keep the decision (written whole, then renamed: a reader never sees half an entry)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {
            "key": self.key(marts, k),
            "states": {name: state.value for name, state in protection.states.items()},
            "statistics": protection.statistics,
            "omitted": sorted(protection.omitted),
        }
        partial = self._path(marts.year).with_suffix(".json.partial")
        partial.write_text(json.dumps(entry, sort_keys=True), encoding="utf-8")
        partial.replace(self._path(marts.year))


def _plain(value: Any) -> Any:
    """Marts rows as JSON: tuple keys joined."""
    if isinstance(value, dict):
        return {
            "|".join(map(str, k)) if isinstance(k, tuple) else str(k): _plain(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@functools.cache
def _deciding_source() -> str:
    """A digest of the modules whose code decides what is shown, and of the codebook (the metrics, their
    answer levels and the tested levels come from it)."""
    sources = (disclosure.__file__, __file__, report_labels.__file__, report_marts.__file__, CODEBOOK_PATH)
    return hashlib.sha256(b"".join(Path(path).read_bytes() for path in sources)).hexdigest()


def year_figures(marts: YearMarts, k: int, cache: ProtectionCache | None = None) -> YearFigures:
    """Build the year's disclosure model and decide what its report may show.

    Two passes: first the figures the report is about (population, shares, comparisons, demographics,
    reasons, data quality), then the answer distributions, which may hide only their own cells. A
    distribution that could be protected only by hiding one of the first figures (a mentors' share,
    say) is left out of the report instead, and the report says why.

    Args:
        marts: The year's marts.
        k: The minimum cell size.
        cache: Where decisions are kept between runs (None: decide every time).

    Raises:
        ReportDataError: When the marts contradict each other (a cohort smaller than those of it who
            answered an item): the figures could not be protected, so there is no report.
    """
    model = _model(
        marts,
        [
            (metric_id, cohort)
            for metric_id, metric in METRICS.items()
            for cohort in DISTRIBUTION_COHORTS
            if cohort in metric.cohorts and _has_distribution(marts, metric_id, cohort)
        ],
    )
    cached = cache.load(marts, k, model) if cache else None
    if cached is not None:
        return YearFigures(marts, model, cached)
    try:
        core_protection = protect(_model(marts, ()), k)
    except Unprotectable as error:
        raise _cannot_protect(marts, k, error) from error
    # The core's decisions stand; a distribution that would need more is left out (protect omits it).
    try:
        protection = protect(
            model,
            k,
            locked=core_protection.states,
            locked_statistics=core_protection.statistics,
            omitted=core_protection.omitted,
        )
    except Unprotectable as error:
        raise _cannot_protect(marts, k, error) from error
    if cache:
        cache.store(marts, k, protection)
    return YearFigures(marts, model, protection)


def _cannot_protect(marts: YearMarts, k: int, error: Unprotectable) -> ReportDataError:
    # Every breakdown around the group is out already: a bug in the model, not in the data.
    return ReportDataError(
        f"the report of {marts.year} cannot hide a group of fewer than {k} ({error}). No report is written "
        "rather than one that gives the group away; please report this with the year's marts."
    )


def _model(marts: YearMarts, distributions: Iterable[tuple[str, str]]) -> Model:
    try:
        return _build(marts, distributions)
    except ValueError as error:  # an identity that does not hold: the marts disagree with each other
        raise ReportDataError(
            f"the marts of survey year {marts.year} contradict each other ({error}). Rebuild the warehouse "
            f"(ssm run --year {marts.year}); if it stays, the dbt models have a bug."
        ) from error


def _build(marts: YearMarts, distributions: Iterable[tuple[str, str]]) -> Model:
    model = Model()
    _population(model, marts)
    for metric_id in METRICS:
        _item(model, marts, metric_id)
    for metric_id, cohort in distributions:
        _distribution(model, marts, metric_id, cohort)
    for characteristic in CHARACTERISTICS:
        _demographics(model, marts, characteristic)
    _reasons(model, marts)
    _data_quality(model, marts)
    return model


def _need(value: int, what: str, marts: YearMarts) -> int:
    if value < 0:
        raise ReportDataError(
            f"the marts of survey year {marts.year} contradict each other: {what} is {value}. Rebuild the "
            f"warehouse (ssm run --year {marts.year}); if it stays, the dbt models have a bug."
        )
    return value


def _population(model: Model, marts: YearMarts) -> None:
    funnel = marts.funnel
    cohorts = [model.atom(f"cohort.{code}", funnel[column]) for code, column in FLOW_COHORTS.items()]
    for code in FLOW_COHORTS:
        compared = code in ("mentor", "non_mentor")
        key = "cohort_compared" if compared else "cohort_excluded"
        model.figure(f"cohort.{code}", [f"cohort.{code}"], priority=PRIORITY[key])
    buckets = [model.atom(f"bucket.{code}", funnel[code]) for code, *_ in EXCLUSIONS]
    for bucket in buckets:
        model.figure(bucket, [bucket], priority=PRIORITY["bucket"])
    model.breakdown("exclusions", buckets)
    model.figure("excluded", buckets, priority=PRIORITY["excluded_total"])
    model.figure("received", [*buckets, *cohorts], priority=PRIORITY["received"])
    model.figure("respondents", cohorts, priority=PRIORITY["respondents"])
    if funnel["class_size"] is not None:
        respondents = sum(model.atoms[c] for c in cohorts)
        missing = _need(
            int(funnel["class_size"]) - respondents, "the class size minus the respondents", marts
        )
        model.atom("nonrespondents", missing)
        model.figure("class_size", ["nonrespondents", *cohorts], priority=PRIORITY["class_size"])
        model.share("respondents", "class_size")
    model.share("cohort.mentor", "respondents")


def _item(model: Model, marts: YearMarts, metric_id: str) -> None:
    metric = METRICS[metric_id]
    rows = {c: marts.metrics.get((metric_id, c)) for c in ("all", "mentor", "non_mentor")}
    if any(row is None for row in rows.values()):
        return
    funnel = marts.funnel
    sizes = {
        "mentor": ["cohort.mentor"],
        "non_mentor": ["cohort.non_mentor"],
        OTHERS: ["cohort.informal", "cohort.unclassified"],
    }
    counts = {c: (int(rows[c]["numerator"]), int(rows[c]["denominator"])) for c in ("mentor", "non_mentor")}
    counts[OTHERS] = (
        rows["all"]["numerator"] - counts["mentor"][0] - counts["non_mentor"][0],
        rows["all"]["denominator"] - counts["mentor"][1] - counts["non_mentor"][1],
    )
    size_values = {
        "mentor": funnel["mentors"],
        "non_mentor": funnel["non_mentors"],
        OTHERS: funnel["informal"] + funnel["unclassified"],
    }
    for c, (yes, answered) in counts.items():
        what = f"{metric_id}, {c}"
        yes_atom = model.atom(item(metric_id, c, "yes"), _need(yes, f"{what}: agreed", marts))
        no_atom = model.atom(item(metric_id, c, "no"), _need(answered - yes, f"{what}: did not agree", marts))
        skipped = _need(size_values[c] - answered, f"{what}: the cohort minus those who answered", marts)
        skip_atom = model.atom(item(metric_id, c, "skipped"), skipped, protected=False)
        model.identity({yes_atom: 1, no_atom: 1, skip_atom: 1, **{s: -1 for s in sizes[c]}})
    for c in metric.cohorts:
        members = ("mentor", "non_mentor", OTHERS) if c == "all" else (c,)
        kind = "item_all" if c == "all" else "item"
        yes = model.figure(
            item(metric_id, c, "yes"),
            [item(metric_id, m, "yes") for m in members],
            priority=PRIORITY[f"{kind}_yes"],
        )
        answered = model.figure(
            item(metric_id, c, "answered"),
            [item(metric_id, m, part) for m in members for part in ("yes", "no")],
            priority=PRIORITY[f"{kind}_answered"],
        )
        model.share(yes, answered)
    comparison = marts.comparisons.get(metric_id)
    if metric_id in VALUE_ITEMS and comparison and comparison["mentor_n"] and comparison["non_mentor_n"]:
        uses = [
            f"{item(metric_id, c, 'yes')}{suffix}" for c in ("mentor", "non_mentor") for suffix in ("", "~")
        ]
        model.statistic(f"ratio.{metric_id}", uses, priority=PRIORITY["ratio"])


def _alias(model: Model, atom: str, priority: int) -> str:
    """A figure that is exactly one atom, under the atom's name."""
    return model.figure(atom, [atom], priority=priority)


def _has_distribution(marts: YearMarts, metric_id: str, cohort: str) -> bool:
    return all((metric_id, cohort, lv) in marts.distributions for lv in METRICS[metric_id].levels)


def _distribution(model: Model, marts: YearMarts, metric_id: str, cohort: str) -> None:
    """One cohort's answer levels of an item, tied to its agree/not-agree split."""
    metric = METRICS[metric_id]
    for lv in metric.levels:
        n = int(marts.distributions[(metric_id, cohort, lv)]["n"])
        model.atom(level(metric_id, cohort, lv), _need(n, f"{metric_id}, {cohort}, answer {lv}", marts))
    model.partition(
        item(metric_id, cohort, "yes"), [level(metric_id, cohort, lv) for lv in metric.yes_levels]
    )
    model.partition(
        item(metric_id, cohort, "no"),
        [level(metric_id, cohort, lv) for lv in metric.levels if lv not in metric.yes_levels],
    )
    names = []
    for lv in metric.levels:
        names.append(_alias(model, level(metric_id, cohort, lv), PRIORITY["distribution"]))
        model.share(names[-1], item(metric_id, cohort, "answered"))
    model.breakdown(f"distribution.{metric_id}.{cohort}", names)


def _demographics(model: Model, marts: YearMarts, characteristic: str) -> None:
    _, known_levels = CHARACTERISTICS[characteristic]
    for cohort, column in (("mentor", "mentors"), ("non_mentor", "non_mentors")):
        size = int(marts.funnel[column])
        if characteristic == "age":
            valid = int((marts.demographics.get(("age", cohort, "mean")) or {}).get("n") or 0)
            valid_atom = model.atom(demographic("age", cohort, "valid"), valid)
            unknown = model.atom(
                demographic("age", cohort, "unknown"), _need(size - valid, f"age, {cohort}: not given", marts)
            )
            model.partition(f"cohort.{cohort}", [valid_atom, unknown])
            model.figure(valid_atom, [valid_atom], priority=PRIORITY["demo_known"], printed=False)
            _alias(model, unknown, PRIORITY["demo_unknown"])
            continue
        present = {lv for (ch, co, lv) in marts.demographics if ch == characteristic and co == cohort}
        levels = [*known_levels, *sorted(present - set(known_levels))]
        atoms = []
        for lv in levels:
            n = int((marts.demographics.get((characteristic, cohort, lv)) or {}).get("n") or 0)
            atoms.append(model.atom(demographic(characteristic, cohort, lv), n))
        known = sum(model.atoms[a] for a in atoms)
        unknown = model.atom(
            demographic(characteristic, cohort, "unknown"),
            _need(size - known, f"{characteristic}, {cohort}: not answered", marts),
        )
        model.partition(f"cohort.{cohort}", [*atoms, unknown])
        known_figure = model.figure(
            demographic(characteristic, cohort, "known"), atoms, priority=PRIORITY["demo_known"]
        )
        for atom in atoms:
            model.share(_alias(model, atom, PRIORITY["demo_level"]), known_figure)
        _alias(model, unknown, PRIORITY["demo_unknown"])
        model.breakdown(f"demographics.{characteristic}.{cohort}", [*atoms, unknown])
    if characteristic in TESTED_LEVELS and characteristic in marts.balance:
        uses = [
            demographic(characteristic, c, lv)
            for c in ("mentor", "non_mentor")
            for lv in TESTED_LEVELS[characteristic]
        ]
        model.statistic(f"balance.{characteristic}", uses, priority=PRIORITY["balance_test"])


def _reasons(model: Model, marts: YearMarts) -> None:
    answered = max((int(r["denominator"] or 0) for r in marts.reasons), default=0)
    non_mentors = int(marts.funnel["non_mentors"])
    model.atom("reason.answered", answered)
    skipped = _need(non_mentors - answered, "non-mentors minus those who gave a reason", marts)
    model.atom("reason.skipped", skipped, protected=False)
    model.partition("cohort.non_mentor", ["reason.answered", "reason.skipped"])
    model.figure("reason.answered", ["reason.answered"], priority=PRIORITY["reason_answered"])
    for row in marts.reasons:
        code = int(row["reason_code"])
        ticked = model.atom(f"reason.{code}", int(row["n"]))
        other = model.atom(
            f"reason.{code}.not", _need(answered - int(row["n"]), f"reason {code} not ticked", marts)
        )
        model.partition("reason.answered", [ticked, other])
        model.share(_alias(model, ticked, PRIORITY["reason"]), "reason.answered")
    model.breakdown("reasons", [f"reason.{int(row['reason_code'])}" for row in marts.reasons])


def _data_quality(model: Model, marts: YearMarts) -> None:
    rows = [model.atom(f"dq.{i}", int(r["n"])) for i, r in enumerate(marts.data_quality)]
    for atom in rows:
        _alias(model, atom, PRIORITY["dq_row"])
    model.breakdown("data_quality", rows)
    model.figure("dq.total", rows, priority=PRIORITY["dq_total"])
