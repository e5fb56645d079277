"""No group of 1..k-1 people can be worked out from what a report and its e-mail show (spec §9 rev 2).

The reader here is written independently of the pipeline's engine (pipelines/lib/report/disclosure.py): it
reads the rendered HTML of a report and of its e-mail digest, every figure by its ``data-fig`` (year
and name), and builds its own model of the year from the marts: the groups of people behind each
name, the identities between them, what each printed text says (an exact count; "<k" = 1..k-1; a
count "not shown" = at least k; a percentage = a share within its rounding; "more than B%" and "less
than B%"; a shown statistic gives away the counts it is computed from). It then asks scipy's
mixed-integer solver for the smallest and largest value of every protected group of 1..k-1 (every
group of answers, the informal and unclassified respondents behind "all respondents", every printed
count and the complement of every printed share). None may be pinned to one number.

Also checked:
- every printed figure is the warehouse's, formatted as the report formats it, and every count of
  1..k-1 prints as "<k";
- every number in the visible text of a report is inside a figure the reader knows about (so no
  figure escapes the check), apart from years, k, "95%" and similar fixed words;
- what a report shows of an earlier year is what that year's own report shows (so checking each
  report's own year covers every year), and its e-mail shows nothing its report does not;
- a statistic across years (a change, a trend test) is printed with figures only when every share it
  is computed from is printed exactly; a trend test printed as words only ("no clear trend") says the
  same for every value that the hidden shares can take.
"""

from __future__ import annotations

import base64
import html as html_lib
import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

import duckdb
import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from pipelines.lib.report.context import load_report_contexts
from pipelines.lib.report.rendering import EMAIL_CHARTS, render_email_html, render_report_html
from tests.conftest import BUILT_YEARS, BuiltPipeline

EN_DASH, MINUS = "\u2013", "\u2212"
META = {"code_version": "test", "source_sha256": "b" * 64}
COHORTS = ("mentor", "non_mentor", "other")
METRICS = {
    "value_distinct": (("1", "2", "3", "4", "5"), ("4", "5")),
    "value_mentee": (("1", "2", "3", "4", "5"), ("4", "5")),
    "value_mentor": (("1", "2", "3", "4", "5"), ("4", "5")),
    "mentor_again": (("yes", "unsure", "no"), ("yes",)),
    "mentor_worthwhile": (("1", "2", "3", "4", "5"), ("4", "5")),
    # spec §2, §8 (rev 2): asked from 2026 on, no rows before
    "mentor_prepared": (("1", "2", "3", "4", "5"), ("4", "5")),
}
BUCKETS = ("preview", "incomplete", "no_consent", "duplicate", "rejected")
TESTED = {"gender": ("female", "male"), "specialty_group": ("primary_care", "surgical", "other")}


# --------------------------------------------------------------------------------------------------
# the figures a page shows
# --------------------------------------------------------------------------------------------------

FIGURE = re.compile(r'<span data-fig="(\d{4}):([^"]+)">(.*?)</span>', re.S)


def shown_figures(page: str) -> dict[tuple[int, str], str]:
    """(year, name) -> printed text of every figure on a page (the same name always prints alike)."""
    found: dict[tuple[int, str], str] = {}
    for year, name, text in FIGURE.findall(page):
        text = html_lib.unescape(text).strip()
        key = (int(year), name)
        assert found.get(key, text) == text, f"{key} printed as {found[key]!r} and as {text!r}"
        found[key] = text
    return found


# --------------------------------------------------------------------------------------------------
# the reader's model of one year, built from the marts
# --------------------------------------------------------------------------------------------------


@dataclass
class YearModel:
    """The groups of people of one survey year, as this test understands the report."""

    year: int
    k: int
    atoms: dict[str, int] = field(default_factory=dict)
    unprotected: set[str] = field(default_factory=set)
    identities: list[dict[str, int]] = field(default_factory=list)
    names: dict[str, dict[str, int]] = field(default_factory=dict)  # printed name -> atoms
    statistics: dict[str, list[str]] = field(default_factory=dict)  # statistic -> names it gives away

    def atom(self, name: str, value: int, protected: bool = True) -> None:
        assert value >= 0, f"{self.year} {name}: negative count {value} in the marts"
        self.atoms[name] = int(value)
        if not protected:
            self.unprotected.add(name)

    def name(self, name: str, atoms: dict[str, int] | list[str]) -> None:
        self.names[name] = dict(atoms) if isinstance(atoms, dict) else dict.fromkeys(atoms, 1)

    def value(self, name: str) -> int:
        return sum(c * self.atoms[a] for a, c in self.names[name].items())


def read_year(con: duckdb.DuckDBPyConnection, year: int, k: int) -> YearModel:
    m = YearModel(year, k)
    funnel = dict(
        zip(
            [d[0] for d in con.execute("select * from marts.response_funnel limit 0").description],
            con.execute("select * from marts.response_funnel where survey_year = ?", [year]).fetchone(),
            strict=True,
        )
    )
    sizes = {"mentor": funnel["mentors"], "non_mentor": funnel["non_mentors"]}
    for cohort, column in (("mentor", "mentors"), ("non_mentor", "non_mentors"), ("informal", "informal"),
                           ("unclassified", "unclassified")):  # fmt: skip
        m.atom(f"cohort.{cohort}", funnel[column])
        m.name(f"cohort.{cohort}", [f"cohort.{cohort}"])
    cohorts = [f"cohort.{c}" for c in ("mentor", "non_mentor", "informal", "unclassified")]
    for bucket in BUCKETS:
        m.atom(f"bucket.{bucket}", funnel[bucket])
        m.name(f"bucket.{bucket}", [f"bucket.{bucket}"])
    m.name("excluded", [f"bucket.{b}" for b in BUCKETS])
    m.name("received", [*(f"bucket.{b}" for b in BUCKETS), *cohorts])
    m.name("respondents", cohorts)
    if funnel["class_size"] is not None:
        m.atom("nonrespondents", funnel["class_size"] - funnel["respondents"])
        m.name("class_size", ["nonrespondents", *cohorts])

    summary = {
        (metric, cohort): (x, n)
        for metric, cohort, x, n in con.execute(
            "select metric_id, cohort, numerator, denominator from marts.metric_summary where survey_year = ?",
            [year],
        ).fetchall()
    }
    levels = {
        (metric, cohort, lv): n
        for metric, cohort, lv, n in con.execute(
            "select metric_id, cohort, level, n from marts.item_distributions where survey_year = ?", [year]
        ).fetchall()
    }
    others_size = funnel["informal"] + funnel["unclassified"]
    for metric, (answers, yes_levels) in METRICS.items():
        if (metric, "all") not in summary:
            continue  # not asked by the year's survey: nothing about it is shown
        x = {c: summary[(metric, c)][0] for c in ("all", "mentor", "non_mentor")}
        n = {c: summary[(metric, c)][1] for c in ("all", "mentor", "non_mentor")}
        x["other"], n["other"] = (
            x["all"] - x["mentor"] - x["non_mentor"],
            n["all"] - n["mentor"] - n["non_mentor"],
        )
        for cohort in COHORTS:
            size = others_size if cohort == "other" else sizes[cohort]
            m.atom(f"{metric}.{cohort}.yes", x[cohort])
            m.atom(f"{metric}.{cohort}.no", n[cohort] - x[cohort])
            m.atom(f"{metric}.{cohort}.skipped", size - n[cohort], protected=False)
            members = (
                ["cohort.informal", "cohort.unclassified"] if cohort == "other" else [f"cohort.{cohort}"]
            )
            m.identities.append(
                {f"{metric}.{cohort}.{p}": 1 for p in ("yes", "no", "skipped")} | {a: -1 for a in members}
            )
        for cohort in ("mentor", "non_mentor"):
            m.name(f"{metric}.{cohort}.yes", [f"{metric}.{cohort}.yes"])
            m.name(f"{metric}.{cohort}.answered", [f"{metric}.{cohort}.yes", f"{metric}.{cohort}.no"])
            if all((metric, cohort, lv) in levels for lv in answers):
                for lv in answers:
                    m.atom(f"{metric}.{cohort}.level.{lv}", levels[(metric, cohort, lv)])
                    m.name(f"{metric}.{cohort}.level.{lv}", [f"{metric}.{cohort}.level.{lv}"])
                part = {
                    "yes": [lv for lv in answers if lv in yes_levels],
                    "no": [lv for lv in answers if lv not in yes_levels],
                }
                for side, lvs in part.items():
                    m.identities.append(
                        {f"{metric}.{cohort}.{side}": 1} | {f"{metric}.{cohort}.level.{lv}": -1 for lv in lvs}
                    )
        m.name(f"{metric}.all.yes", [f"{metric}.{c}.yes" for c in COHORTS])
        m.name(f"{metric}.all.answered", [f"{metric}.{c}.{p}" for c in COHORTS for p in ("yes", "no")])
        m.statistics[f"ratio.{metric}"] = [
            f"{metric}.{c}.{p}" for c in ("mentor", "non_mentor") for p in ("yes", "no")
        ]
        for cohort in ("mentor", "non_mentor"):
            m.name(f"{metric}.{cohort}.no", [f"{metric}.{cohort}.no"])

    for characteristic, level, cohort, n in con.execute(
        "select characteristic, level, cohort, n from marts.demographics_by_cohort where survey_year = ? "
        "and characteristic <> 'age'",
        [year],
    ).fetchall():
        m.atom(f"{characteristic}.{cohort}.{level}", n)
        m.name(f"{characteristic}.{cohort}.{level}", [f"{characteristic}.{cohort}.{level}"])
    for characteristic in TESTED:
        for cohort in ("mentor", "non_mentor"):
            parts = [a for a in m.atoms if a.startswith(f"{characteristic}.{cohort}.")]
            m.atom(f"{characteristic}.{cohort}.unknown", sizes[cohort] - sum(m.atoms[a] for a in parts))
            m.name(f"{characteristic}.{cohort}.unknown", [f"{characteristic}.{cohort}.unknown"])
            m.name(f"{characteristic}.{cohort}.known", parts)
            m.identities.append(
                {a: 1 for a in [*parts, f"{characteristic}.{cohort}.unknown"]} | {f"cohort.{cohort}": -1}
            )
        m.statistics[f"balance.{characteristic}"] = [
            f"{characteristic}.{c}.{lv}" for c in ("mentor", "non_mentor") for lv in TESTED[characteristic]
        ]
    for cohort in ("mentor", "non_mentor"):
        valid = con.execute(
            "select coalesce(max(n), 0) from marts.demographics_by_cohort where survey_year = ? and "
            "characteristic = 'age' and level = 'mean' and cohort = ?",
            [year, cohort],
        ).fetchone()[0]
        m.atom(f"age.{cohort}.valid", valid)
        m.atom(f"age.{cohort}.unknown", sizes[cohort] - valid)
        m.name(f"age.{cohort}.unknown", [f"age.{cohort}.unknown"])
        m.identities.append({f"age.{cohort}.valid": 1, f"age.{cohort}.unknown": 1, f"cohort.{cohort}": -1})

    reasons = con.execute(
        "select reason_code, n, denominator from marts.nonparticipation_reasons where survey_year = ?", [year]
    ).fetchall()
    answered = max((d for _, _, d in reasons), default=0)
    m.atom("reason.answered", answered)
    m.atom("reason.skipped", sizes["non_mentor"] - answered, protected=False)
    m.identities.append({"reason.answered": 1, "reason.skipped": 1, "cohort.non_mentor": -1})
    m.name("reason.answered", ["reason.answered"])
    for code, n, _ in reasons:
        m.atom(f"reason.{code}", n)
        m.atom(f"reason.{code}.not", answered - n)
        m.identities.append({f"reason.{code}": 1, f"reason.{code}.not": 1, "reason.answered": -1})
        m.name(f"reason.{code}", [f"reason.{code}"])

    issues = [
        n
        for (n,) in con.execute(
            'select count(*) from marts.data_quality_issues where survey_year = ? group by rule, "column" '
            'order by rule, "column"',
            [year],
        ).fetchall()
    ]
    for i, n in enumerate(issues):
        m.atom(f"dq.{i}", n)
        m.name(f"dq.{i}", [f"dq.{i}"])
    m.name("dq.total", [f"dq.{i}" for i in range(len(issues))])
    return m


# --------------------------------------------------------------------------------------------------
# what the printed texts say, checked and turned into constraints
# --------------------------------------------------------------------------------------------------

PERCENT = re.compile(r"^(\d+\.\d)%$")
BOUND = re.compile(r"^(more|less) than (\d+)%$")


@dataclass
class Knowledge:
    rows: list[dict[str, int | float]] = field(default_factory=list)
    lows: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)
    protected: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> atoms
    problems: list[str] = field(default_factory=list)

    def add(self, terms: dict[str, int | float], low: float, high: float) -> None:
        self.rows.append(terms)
        self.lows.append(low)
        self.highs.append(high)


def read_page(model: YearModel, figures: dict[str, str]) -> Knowledge:
    """Check every printed figure of the year against the marts and collect what it tells a reader."""
    k = model.k
    knowledge = Knowledge()
    for identity in model.identities:
        knowledge.add(identity, 0, 0)
    for a in model.atoms:
        if a not in model.unprotected:
            knowledge.protected[f"atom:{a}"] = {a: 1}
    for name, text in figures.items():
        where = f"{model.year}:{name} = {text!r}"
        if name.split("#")[0] in model.statistics:
            name = name.split("#")[0]
            if text not in ("not shown", "no data"):
                for used in model.statistics[name]:
                    atoms = {used: 1}
                    knowledge.add(atoms, model.atoms[used], model.atoms[used])
            continue
        if "/" in name:
            numerator, denominator = name.split("/")
            x, n = model.value(numerator), model.value(denominator)
            num_terms, den_terms = model.names[numerator], model.names[denominator]
            complement = {a: c for a, c in den_terms.items()}
            for a, c in num_terms.items():
                complement[a] = complement.get(a, 0) - c
            knowledge.protected[f"{name}~"] = {a: c for a, c in complement.items() if c}
            if (match := PERCENT.match(text)) is not None:
                if not n or f"{100 * x / n:.1f}" != match[1]:
                    knowledge.problems.append(f"{where}: the warehouse has {x} of {n}")
                if 1 <= x < k or 1 <= n - x < k:
                    knowledge.problems.append(f"{where}: {x} of {n} has a small side (k = {k})")
                # x / n lies within the rounding of the printed percentage.
                p = Fraction(match[1]) / 100
                half = Fraction(1, 2000)
                terms = defaultdict(float)
                for a, c in num_terms.items():
                    terms[a] += c
                for a, c in den_terms.items():
                    terms[a] -= float(p - half) * c
                knowledge.add(dict(terms), 0, math.inf)
                terms = defaultdict(float)
                for a, c in num_terms.items():
                    terms[a] += c
                for a, c in den_terms.items():
                    terms[a] -= float(p + half) * c
                knowledge.add(dict(terms), -math.inf, 0)
            elif (match := BOUND.match(text)) is not None:
                bound = Fraction(int(match[2]), 100)
                true = Fraction(x, n) if n else None
                if (
                    true is None
                    or (match[1] == "more" and not true > bound)
                    or (match[1] == "less" and not true < bound)
                ):
                    knowledge.problems.append(f"{where}: not true of {x} of {n}")
                terms = defaultdict(float)
                for a, c in num_terms.items():
                    terms[a] += c
                for a, c in den_terms.items():
                    terms[a] -= float(bound) * c
                if match[1] == "more":
                    knowledge.add(dict(terms), 1e-9, math.inf)
                else:
                    knowledge.add(dict(terms), -math.inf, -1e-9)
                # The footnote says a bound is given only when fewer than k did not (or did) agree.
                small_side = {a: c for a, c in complement.items() if c} if match[1] == "more" else num_terms
                knowledge.add(dict(small_side), 1, k - 1)
            elif text not in ("not shown", "no data"):
                knowledge.problems.append(f"{where}: not a percentage, a bound, 'not shown' or 'no data'")
            continue
        if name not in model.names:
            continue  # a cross-year or non-count figure (change, trend, age mean): checked elsewhere
        value = model.value(name)
        terms = model.names[name]
        knowledge.protected[name] = terms
        if text == f"<{k}":
            if not 1 <= value < k:
                knowledge.problems.append(f"{where}: the warehouse has {value}")
            knowledge.add(terms, 1, k - 1)
        elif text == "not shown":
            if value < k:
                knowledge.problems.append(
                    f"{where}: 'not shown' reads as at least {k}, the warehouse has {value}"
                )
            knowledge.add(terms, k, math.inf)
        elif text.isdigit():
            if int(text) != value:
                knowledge.problems.append(f"{where}: the warehouse has {value}")
            if 1 <= value < k:
                knowledge.problems.append(f"{where}: a count of 1..{k - 1} is printed")
            knowledge.add(terms, value, value)
        else:
            knowledge.problems.append(f"{where}: not a count, '<{k}' or 'not shown'")
    return knowledge


def pinned_groups(model: YearModel, knowledge: Knowledge) -> list[str]:
    """Protected groups of 1..k-1 that a whole-number reader pins to one value."""
    exposed = []
    for group, terms in sorted(knowledge.protected.items()):
        value = sum(c * model.atoms[a] for a, c in terms.items())
        if 1 <= value < model.k:
            low, high = integer_range(model, knowledge, terms, group)
            if round(low) == round(high):
                exposed.append(f"{group} = {value}")
    return exposed


def integer_range(
    model: YearModel, knowledge: Knowledge, terms: dict[str, int], what: str = ""
) -> tuple[float, float]:
    """The smallest and largest whole-number value of a sum of atoms, given what the page says
    (scipy's mixed-integer solver; infinite when the page sets no bound)."""
    atoms = sorted(model.atoms)
    index = {a: i for i, a in enumerate(atoms)}
    matrix = np.zeros((len(knowledge.rows), len(atoms)))
    for r, row in enumerate(knowledge.rows):
        for a, c in row.items():
            matrix[r, index[a]] += c
    constraint = LinearConstraint(matrix, np.array(knowledge.lows, float), np.array(knowledge.highs, float))
    objective = np.zeros(len(atoms))
    for a, c in terms.items():
        objective[index[a]] += c
    ends = []
    for sign in (1, -1):
        result = milp(
            sign * objective,
            constraints=constraint,
            integrality=np.ones(len(atoms)),
            bounds=Bounds(0, np.inf),
        )
        assert result.status in (0, 3), (
            f"{model.year} {what}: {result.message} (the page contradicts the marts)"
        )
        ends.append(sign * result.fun if result.status == 0 else sign * math.inf)
    return ends[0], ends[1]


def year_knowledge(
    con: duckdb.DuckDBPyConnection, year: int, k: int, pages: list[str]
) -> tuple[YearModel, Knowledge]:
    model = read_year(con, year, k)
    figures: dict[str, str] = {}
    for page in pages:
        for (y, name), text in shown_figures(page).items():
            if y == year:
                figures[name] = text
    return model, read_page(model, figures)


def check_year(con: duckdb.DuckDBPyConnection, year: int, k: int, pages: list[str]) -> None:
    """The year's own figures on its report and e-mail: true to the marts, and no small group pinned."""
    model = read_year(con, year, k)
    figures: dict[str, str] = {}
    for page in pages:
        for (y, name), text in shown_figures(page).items():
            if y == year:
                assert figures.get(name, text) == text, f"{year}:{name} reads {figures[name]!r} and {text!r}"
                figures[name] = text
    knowledge = read_page(model, figures)
    assert not knowledge.problems, "\n".join(knowledge.problems)
    exposed = pinned_groups(model, knowledge)
    assert not exposed, f"{year}, k = {k}: worked out from the report: {', '.join(exposed)}"


# --------------------------------------------------------------------------------------------------
# the pages
# --------------------------------------------------------------------------------------------------

PIXEL = (
    "data:image/png;base64,"
    + base64.b64encode(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360f8cf0000020101003c2a0ad60000000049454e44ae426082"
        )
    ).decode()
)


def render(con: duckdb.DuckDBPyConnection, years: list[int], k: int) -> dict[int, tuple[str, str]]:
    """(report, e-mail) HTML of each year, rendered at k (images are a placeholder pixel)."""
    contexts = load_report_contexts(con, years, k, dict.fromkeys(years, META))
    return {
        year: (
            render_report_html(ctx, dict.fromkeys(ctx["charts"], PIXEL)),
            render_email_html(ctx, dict.fromkeys(EMAIL_CHARTS, PIXEL), f"ssm_report_{year}.pdf"),
        )
        for year, ctx in contexts.items()
    }


@pytest.fixture(scope="module")
def pages_k5(built_pipeline: BuiltPipeline) -> dict[int, tuple[str, str]]:
    """The pipeline's own report and e-mail of every built year (k = 5, as the demo runs)."""
    out = {}
    for year in BUILT_YEARS:
        folder = built_pipeline.root / "reports" / str(year)
        out[year] = (
            (folder / "report.html").read_text(encoding="utf-8"),
            (folder / "email.html").read_text(encoding="utf-8"),
        )
    return out


@pytest.mark.parametrize("year", BUILT_YEARS)
def test_no_small_group_can_be_worked_out_from_a_report_and_its_email(
    built_pipeline: BuiltPipeline, pages_k5: dict[int, tuple[str, str]], year: int
) -> None:
    """Promise (spec §9 rev 2): in each year's report and e-mail as the pipeline wrote them, every
    figure of the year is the warehouse's, and no group of 1..4 people can be worked out, by
    subtraction across any identities, by the bounds that "<5", "not shown" and "more than" set, or
    from the counts a shown statistic gives away (whole-number reader)."""
    with duckdb.connect(str(built_pipeline.root / "warehouse.duckdb"), read_only=True) as con:
        check_year(con, year, 5, list(pages_k5[year]))


@pytest.mark.parametrize(("k", "years"), [(3, (2016, 2021)), (10, (2018, 2023)), (20, (2025,))])
def test_no_small_group_can_be_worked_out_at_other_k(
    built_pipeline: BuiltPipeline, k: int, years: tuple[int, ...]
) -> None:
    """The same promise with k raised until most cells are small (and lowered to 3)."""
    with duckdb.connect(str(built_pipeline.root / "warehouse.duckdb"), read_only=True) as con:
        pages = render(con, list(years), k)
        for year in years:
            check_year(con, year, k, list(pages[year]))
        hidden = sum(
            page.count("not shown") + page.count(f"&lt;{k}") for pair in pages.values() for page in pair
        )
    assert hidden, "nothing was hidden: the check proved nothing"


def test_what_a_report_shows_of_earlier_years_is_what_their_own_reports_show(
    pages_k5: dict[int, tuple[str, str]],
) -> None:
    """Every figure of year Y printed in a later report (history tables) reads exactly as in Y's own
    report, and the e-mail prints nothing its report does not: so the checks of each year's own report
    cover every page."""
    own = {year: shown_figures(report) for year, (report, _) in pages_k5.items()}
    for year, (report, email) in pages_k5.items():
        figures = shown_figures(report)
        for (y, name), text in figures.items():
            if y < year and not name.startswith(("change.", "trend.")):
                assert own[y].get((y, name)) == text, (
                    f"report {year} prints {y}:{name} as {text!r}, report {y} as {own[y].get((y, name))!r}"
                )
            assert y <= year, f"report {year} prints a figure of the later year {y}"
        for key, text in shown_figures(email).items():
            assert figures.get(key) == text, (
                f"the {year} e-mail prints {key} = {text!r}, its report {figures.get(key)!r}"
            )


NUMBER = re.compile(r"(?<![\w.])[\d][\d,.]*%?")
ALLOWED = re.compile(r"^(19|20)\d\d$|^95%$|^[0-9]$|^0\.(05|1|5)$|^100%$")


# Text that goes with a figure printed beside it, or is no figure at all: intervals (they follow from
# the share or ratio they belong to), checksums, how many changes the report tests and how many years
# a trend test spans.
BESIDE_FIGURES = re.compile(
    rf"95% CI [\d.{MINUS}]+{EN_DASH}[\d.{MINUS}]+%?|SHA-256( [0-9a-f]{{64}})?|\([0-9a-f]{{12}}…\)|tests \d+ changes|\d+ years|code version [0-9a-f]+"
)


def visible_text_outside_figures(page: str) -> str:
    body = page[page.index("<body") :]
    body = re.sub(r"<style.*?</style>", " ", body, flags=re.S)
    body = FIGURE.sub(" ", body)
    body = re.sub(r"<img[^>]*>", " ", body)  # alt texts are checked against the figures in the browser tests
    body = re.sub(r"<sup.*?</sup>", " ", body, flags=re.S)
    body = re.sub(r'<span class="ci">.*?</span>', " ", body, flags=re.S)  # intervals go with their share
    body = re.sub(r"<[^>]+>", " ", body)
    return BESIDE_FIGURES.sub(" ", html_lib.unescape(body))


def test_every_number_a_report_prints_is_a_checked_figure(pages_k5: dict[int, tuple[str, str]]) -> None:
    """Outside the figures the reader checks, a report prints only years, k, '95%' and the like: no
    count or share escapes the checks above (intervals print inside their share's table cell)."""
    for year, (report, email) in pages_k5.items():
        for page in (report, email):
            text = visible_text_outside_figures(page)
            for number in NUMBER.findall(text):
                number = number.rstrip(".,")
                if not ALLOWED.match(number):
                    context = text[max(0, text.index(number) - 60) : text.index(number) + 20].replace(
                        "\n", " "
                    )
                    pytest.fail(f"{year}: {number!r} is printed outside a checked figure: ...{context}...")


def test_the_reader_catches_a_report_that_hides_only_the_small_cells(
    built_pipeline: BuiltPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: with the engine's second step switched off (each count of 1..4
    hidden on its own, nothing more), the reader works groups out in the demonstration years, among
    them the informal respondent of 2021 who did not find SSM distinct (100 of 111 agreed, 37 of 42
    mentors, 54 of 59 non-mentors: 9 of 10 others)."""
    from pipelines.lib.report import disclosure

    monkeypatch.setattr(disclosure._Reader, "exposed", lambda self, protection: [])
    with duckdb.connect(str(built_pipeline.root / "warehouse.duckdb"), read_only=True) as con:
        pages = render(con, [2021], 5)
        model, knowledge = year_knowledge(con, 2021, 5, list(pages[2021]))
        exposed = pinned_groups(model, knowledge)
    assert "atom:value_distinct.other.no = 1" in exposed, exposed


CA_FIGURES = re.compile(r"^(rising|falling|no clear trend): z = ([\u2212-]?\d+\.\d\d), p (=|<) ")


def cochran_armitage_z(rows: list[tuple[int, int, int]]) -> float | None:
    """z of the Cochran-Armitage test (scores = years, no continuity correction), spec §8."""
    rows = [(t, x, n) for t, x, n in rows if n > 0]
    big_n = sum(n for _, _, n in rows)
    p_bar = Fraction(sum(x for _, x, _ in rows), big_n)
    if len(rows) < 2 or p_bar in (0, 1):
        return None
    stat = sum(t * (x - n * p_bar) for t, x, n in rows)
    variance = (
        p_bar
        * (1 - p_bar)
        * (sum(t * t * n for t, _, n in rows) - Fraction(sum(t * n for t, _, n in rows) ** 2, big_n))
    )
    return float(stat) / math.sqrt(variance) if variance > 0 else None


def words_of(z: float) -> str:
    p = math.erfc(abs(z) / math.sqrt(2))
    return "no clear trend" if p >= 0.05 else ("rising" if z > 0 else "falling")


def test_statistics_across_years_say_nothing_the_shown_shares_do_not(
    built_pipeline: BuiltPipeline, pages_k5: dict[int, tuple[str, str]]
) -> None:
    """A change or a trend test printed with its figures uses only shares printed exactly (in the
    same report); a trend printed as words only says the same for every value the hidden shares of
    its years can take, given what their own reports print (whole-number ranges, enumerated)."""
    with duckdb.connect(str(built_pipeline.root / "warehouse.duckdb"), read_only=True) as con:
        knowledge = {y: year_knowledge(con, y, 5, list(pages_k5[y])) for y in BUILT_YEARS}
        starts = dict(
            ((y, m), s)
            for y, m, s in con.execute(
                "select survey_year, metric_id, series_start from marts.metric_trends where cohort = 'all'"
            ).fetchall()
        )
        for year, (report, _) in pages_k5.items():
            figures = shown_figures(report)
            for (y, name), text in figures.items():
                if name.startswith("change.") and name != "change.response_rate" and text[:1] in "+\u2212":
                    _, metric, cohort = name.split(".")
                    share = f"{metric}.{cohort}.yes/{metric}.{cohort}.answered"
                    assert PERCENT.match(figures[(y, share)]), f"{year}: {name} of {y} next to a hidden share"
                if not name.startswith("trend."):
                    continue
                _, metric, cohort = name.split(".")
                years = [t for t in BUILT_YEARS if starts[(t, metric)] == starts[(y, metric)] and t <= y]
                share = f"{metric}.{cohort}.yes/{metric}.{cohort}.answered"
                if CA_FIGURES.match(text):
                    for t in years:
                        shown = figures.get((t, share), "no data")
                        assert PERCENT.match(shown) or shown == "no data", (
                            f"{year}: {name} with figures next to {t} = {shown!r}"
                        )
                    continue
                if text not in ("rising", "falling", "no clear trend"):
                    continue
                options = []
                for t in years:
                    model, known = knowledge[t]
                    yes = model.names[f"{metric}.{cohort}.yes"]
                    answered = model.names[f"{metric}.{cohort}.answered"]
                    x_range, n_range = integer_range(model, known, yes), integer_range(model, known, answered)
                    assert math.isfinite(x_range[1]) and math.isfinite(n_range[1]), f"{name}: {t} unbounded"
                    options.append(
                        [(t, x, n) for x in range(round(x_range[0]), round(x_range[1]) + 1)
                         for n in range(round(n_range[0]), round(n_range[1]) + 1) if x <= n]
                    )  # fmt: skip
                combinations = math.prod(len(o) for o in options)
                assert combinations <= 20_000, f"{name}: {combinations} combinations"
                for combination in itertools.product(*options):
                    z = cochran_armitage_z(list(combination))
                    assert z is not None and words_of(z) == text, (
                        f"report {year}: {name} says {text!r}, but hidden values {combination} give "
                        f"{None if z is None else words_of(z)!r}"
                    )
