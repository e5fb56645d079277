"""The small-cell engine (pipelines/lib/report/disclosure.py) against readers written independently here.

The engine protects with linear programmes; these tests check its decisions with exact whole-number
readers: for a single total and its parts, the sums of the hidden parts' ranges (exact for intervals);
for two-way tables, scipy's mixed-integer solver. A reader is given what the report prints: exact
counts, "<k" (1..k-1), "not shown" (at least k, since small counts print "<k" and zeros print "0"), and
the inputs of every shown statistic.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from pipelines.lib.report.disclosure import Model, State, Unprotectable, audit, check_k, protect
from pipelines.lib.report.figures import share_bound

SETTINGS = settings(max_examples=100, deadline=None)
counts = st.one_of(st.integers(0, 6), st.integers(0, 40))
ks = st.sampled_from([3, 4, 5, 10])


def known_interval(state: State, value: int, k: int) -> tuple[int, float]:
    """What a reader knows of one printed count."""
    if state is State.SHOWN:
        return value, value
    if state is State.SMALL:
        return 1, k - 1
    if state is State.WITHHELD:
        return k, math.inf
    return 0, math.inf  # not printed, or left out with its whole breakdown


def partition_model(parts: list[int], total_shown: bool = True) -> Model:
    model = Model()
    names = [model.atom(f"p{i}", v) for i, v in enumerate(parts)]
    for name in names:
        model.figure(name, [name], priority=10)
    if total_shown:
        model.figure("total", names, priority=100)
    model.breakdown("parts", names)
    return model


def exact_ranges(parts: list[int], states: list[State], total: tuple[float, float], k: int) -> list[set[int]]:
    """Each part's possible values given the printed parts and what is printed of the total (exact:
    a part is the total minus the others, and sums of whole-number intervals are intervals)."""
    intervals = [known_interval(s, v, k) for s, v in zip(states, parts, strict=True)]
    out = []
    for i, (low, high) in enumerate(intervals):
        others_low = sum(lo for j, (lo, _) in enumerate(intervals) if j != i)
        others_high = sum(hi for j, (_, hi) in enumerate(intervals) if j != i)
        top = min(high, total[1] - others_low)
        bottom = max(low, total[0] - others_high)
        out.append(set(range(int(bottom), int(min(top, 10**6)) + 1)))
    return out


@SETTINGS
@given(parts=st.lists(counts, min_size=1, max_size=6), k=ks)
def test_no_part_of_a_printed_total_can_be_worked_out(parts: list[int], k: int) -> None:
    """Promise: with a total and its parts printed, every part of 1..k-1 keeps at least two possible
    values, by subtraction and by the bounds that "<k" and "not shown" set (exact reader)."""
    model = partition_model(parts)
    protection = protect(model, k)
    states = [protection.state(f"p{i}") for i in range(len(parts))]
    for value, state in zip(parts, states, strict=True):
        if 1 <= value < k:
            assert state in (State.SMALL, State.OMITTED)
        elif state is State.WITHHELD:
            assert value >= k
    total = known_interval(protection.state("total"), sum(parts), k)
    ranges = exact_ranges(parts, states, total, k)
    for i, value in enumerate(parts):
        assert value in ranges[i]
        if 1 <= value < k:
            assert len(ranges[i]) >= 2, f"part {i} of {parts} is pinned (k = {k}, states {states})"
    assert audit(model, protection) == []


@pytest.mark.parametrize(
    ("parts", "k"),
    [
        ([1, 1, 20], 5),  # two "<5" whose sum is 2: both would be 1
        ([4, 4, 20], 5),  # two "<5" whose sum is 8: both would be 4
        ([1, 5, 20], 5),  # "<5" and a hidden 5 (so at least 5) sum to 6: 1 and 5
        ([1, 30], 3),  # one small part next to one other
    ],
)
def test_bounds_no_longer_pin_a_hidden_count(parts: list[int], k: int) -> None:
    """The four cases that revision 1 left open (strict xfails until rev 2): now protected."""
    model = partition_model(parts)
    protection = protect(model, k)
    states = [protection.state(f"p{i}") for i in range(len(parts))]
    ranges = exact_ranges(parts, states, (sum(parts), sum(parts)), k)
    for i, value in enumerate(parts):
        if 1 <= value < k:
            assert len(ranges[i]) >= 2, (parts, states)


def test_k_of_two_is_refused_and_k_of_one_masks_nothing() -> None:
    """ "<2" can only mean 1, so k = 2 cannot protect anyone; k = 1 is an analyst's unmasked run."""
    with pytest.raises(ValueError, match="k = 2"):
        check_k(2)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            check_k(bad)
    protection = protect(partition_model([1, 1, 20]), 1)
    assert all(state is State.SHOWN for state in protection.states.values())


def two_way_model(table: list[list[int]], with_statistic: bool) -> Model:
    """A cohort-by-level table with row totals (cohort sizes), column totals and the grand total."""
    model = Model()
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            model.atom(f"c{r}{c}", value)
            model.figure(f"c{r}{c}", [f"c{r}{c}"], priority=10)
    for r, row in enumerate(table):
        model.figure(f"row{r}", [f"c{r}{c}" for c in range(len(row))], priority=90)
    for c in range(len(table[0])):
        model.figure(f"col{c}", [f"c{r}{c}" for r in range(len(table))], priority=50)
    model.figure("grand", list(model.atoms), priority=95)
    for r, row in enumerate(table):
        model.breakdown(f"row{r}", [f"c{r}{c}" for c in range(len(row))])
    if with_statistic:
        model.statistic("test", [f"c{r}{c}" for r in range(len(table)) for c in range(2)], priority=40)
    return model


def integer_range(model: Model, protection, cell: str, k: int) -> tuple[float, float]:
    """min and max of one cell (an atom) over whole-number tables that print the same and keep the
    model's identities (mixed-integer solver)."""
    atoms = sorted(model.atoms)
    index = {a: i for i, a in enumerate(atoms)}
    rows, lows, highs = [], [], []
    pinned = {
        f for name, stat in model.statistics.items() if protection.statistic_shown(name) for f in stat.uses
    }
    known: list[tuple[dict[str, int], float, float]] = [(terms, 0, 0) for terms in model.identities]
    for name, figure in model.figures.items():
        state = protection.state(name)
        low, high = known_interval(state, figure.value, k)
        if name in pinned:
            low = high = figure.value
        if state is State.UNPRINTED and name not in pinned:
            continue
        known.append((dict(figure.terms), low, high))
    for (numerator, denominator), complement in model.shares.items():
        # "more than B%" says the complement is 1..k-1, "less than B%" the numerator.
        display = protection.share_display(numerator, denominator)
        small = {"more_than": complement, "less_than": numerator}.get(display)
        if small is not None:
            known.append((dict(model.figures[small].terms), 1, k - 1))
    for terms, low, high in known:
        row = np.zeros(len(atoms))
        for atom, coefficient in terms.items():
            row[index[atom]] = coefficient
        rows.append(row)
        lows.append(low)
        highs.append(high)
    constraint = LinearConstraint(np.array(rows), np.array(lows, float), np.array(highs, float))
    objective = np.zeros(len(atoms))
    objective[index[cell]] = 1
    out = []
    for sign in (1, -1):
        result = milp(
            sign * objective,
            constraints=constraint,
            integrality=np.ones(len(atoms)),
            bounds=Bounds(0, np.inf),
        )
        # The true table is a solution, so "infeasible or unbounded" (4) can only mean unbounded.
        assert result.status in (0, 3, 4), result.message
        out.append(sign * result.fun if result.status == 0 else math.inf)
    return out[0], out[1]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(2, 3),
    columns=st.integers(2, 4),
    data=st.data(),
    k=ks,
    with_statistic=st.booleans(),
)
def test_no_cell_of_a_two_way_table_can_be_worked_out(
    rows: int, columns: int, data: st.DataObject, k: int, with_statistic: bool
) -> None:
    """Promise: in a table printed with its row and column totals (a cohort by its levels), and a test
    on its first two columns that gives those cells away when shown, no cell of 1..k-1 is pinned by a
    whole-number reader (scipy's mixed-integer solver, not the engine's linear relaxation)."""
    table = [[data.draw(counts) for _ in range(columns)] for _ in range(rows)]
    model = two_way_model(table, with_statistic)
    protection = protect(model, k)
    if with_statistic and protection.statistic_shown("test"):
        assert not any(1 <= table[r][c] < k for r in range(rows) for c in range(2))
    for r, c in itertools.product(range(rows), range(columns)):
        value = table[r][c]
        if 1 <= value < k:
            low, high = integer_range(model, protection, f"c{r}{c}", k)
            assert low < high, f"cell ({r}, {c}) = {value} of {table} is pinned (k = {k})"


def test_a_statistic_with_a_small_input_is_hidden_and_named_why() -> None:
    """A test over a 2x2 table with a cell of 1 is not shown (it would give the cell away)."""
    model = two_way_model([[1, 20, 30], [12, 15, 14]], with_statistic=True)
    protection = protect(model, 5)
    assert not protection.statistic_shown("test")


def test_locked_figures_are_never_hidden_and_a_breakdown_is_left_out_instead() -> None:
    """A second pass may hide only its own figures; when that cannot protect a group, the breakdown
    around it is left out whole, and when nothing may go at all, the engine says which group."""
    model = partition_model([1, 5, 20])
    protection = protect(model, 5, locked={"total": State.SHOWN})
    assert protection.state("total") is State.SHOWN and protection.state("p2") is State.WITHHELD
    model = partition_model([1, 1])  # three "<3": two parts and their total; the parts can only be 1
    protection = protect(model, 3, locked={"total": State.SMALL})
    assert protection.omitted == {"parts"}
    assert audit(model, protection) == []
    model = partition_model([1, 5, 20])
    # Here the breakdown holds locked figures: it may not be left out, and p0 alone still leaks.
    locked = {"p0": State.SMALL, "p1": State.SHOWN, "p2": State.SHOWN, "total": State.SHOWN}
    with pytest.raises(Unprotectable) as raised:
        protect(model, 5, locked=locked)
    assert "p0" in raised.value.group


def test_a_hidden_share_is_shown_as_the_bound_that_fewer_than_k_already_implies() -> None:
    """ "more than 95%" when fewer than k did not agree: a multiple of 5 below (n-k+1)/n, so it says
    nothing that "<k" does not; likewise "less than" above (k-1)/n; and no bound when it would say nothing."""
    model = Model()
    model.atom("yes", 110)
    model.atom("no", 3)
    model.figure("yes", ["yes"], priority=50)
    model.figure("answered", ["yes", "no"], priority=90)
    model.share("yes", "answered")
    protection = protect(model, 5)
    assert protection.share_display("yes", "answered") == "more_than"
    assert share_bound("more_than", 113, 5) == 95  # (113-4)/113 = 96.5%
    assert share_bound("more_than", 100, 5) == 95  # (100-4)/100 = 96%, strictly above 95
    assert share_bound("more_than", 80, 5) == 90  # 76/80 = 95% exactly: "more than 95%" would be wrong
    assert share_bound("less_than", 113, 5) == 5  # 4/113 = 3.5%
    assert share_bound("less_than", 40, 5) == 15  # 4/40 = 10% exactly: "less than 10%" would be wrong
    assert share_bound("more_than", 6, 5) == 30  # 2/6 = 33%
    assert share_bound("more_than", 4, 5) is None  # 0/4: nothing worth saying
    for n in range(5, 300):
        bound = share_bound("more_than", n, 5)
        if bound is not None:
            assert bound / 100 < (n - 4) / n
        bound = share_bound("less_than", n, 5)
        if bound is not None:
            assert bound / 100 > 4 / n


# --------------------------------------------------------------------------------------------------
# a whole year's figures, on random marts with tiny cohorts and zeros
# --------------------------------------------------------------------------------------------------

SIZES = st.one_of(st.integers(0, 3), st.integers(0, 12), st.integers(0, 40))


@st.composite
def year_marts(draw: st.DrawFn):
    """A consistent year of marts: cohorts, buckets, every item's answers and levels, demographics,
    reasons and data-quality rows, with small and zero groups everywhere."""
    from pipelines.lib.report.labels import CHARACTERISTICS, EXCLUSIONS, METRICS
    from pipelines.lib.report.marts import YearMarts

    def split(total: int, parts: int) -> list[int]:
        out = []
        for _ in range(parts - 1):
            out.append(draw(st.integers(0, total)))
            total -= out[-1]
        return [*out, total]

    size = {c: draw(SIZES) for c in ("mentor", "non_mentor", "informal", "unclassified")}
    respondents = sum(size.values())
    funnel = {
        "mentors": size["mentor"], "non_mentors": size["non_mentor"], "informal": size["informal"],
        "unclassified": size["unclassified"], "respondents": respondents,
        "class_size": draw(st.one_of(st.none(), st.integers(max(respondents, 1), respondents + 15))),
        "instrument_version": "v2", "source_sha256": "a" * 64,
        **{code: draw(st.integers(0, 8)) for code, *_ in EXCLUSIONS},
    }  # fmt: skip
    marts = YearMarts(2024, funnel)
    others = size["informal"] + size["unclassified"]
    for metric_id, metric in METRICS.items():
        counts = {}
        for cohort, members in (
            ("mentor", size["mentor"]),
            ("non_mentor", size["non_mentor"]),
            ("other", others),
        ):
            # Questions the report shows for mentors only are asked of mentors only (the codebook).
            asked = cohort == "mentor" or "non_mentor" in metric.cohorts
            n = draw(st.integers(max(0, members - 2), members)) if asked else 0
            levels = dict(zip(metric.levels, split(n, len(metric.levels)), strict=True))
            counts[cohort] = (sum(levels[lv] for lv in metric.yes_levels), n, levels)
        for cohort in ("mentor", "non_mentor"):
            for lv, n in counts[cohort][2].items():
                marts.distributions[(metric_id, cohort, lv)] = {"n": n, "denominator": counts[cohort][1]}
        rows = {c: (counts[c][0], counts[c][1]) for c in ("mentor", "non_mentor")}
        rows["all"] = tuple(sum(counts[c][i] for c in ("mentor", "non_mentor", "other")) for i in (0, 1))
        for cohort, (x, n) in rows.items():
            marts.metrics[(metric_id, cohort)] = {
                "numerator": x, "denominator": n, "ci_low": None, "ci_high": None, "series_start": 2024,
                "prior_year": None, "change_vs_prior": None, "p_value_vs_prior": None,
            }  # fmt: skip
        (a, n1), (c, n2) = rows["mentor"], rows["non_mentor"]
        marts.comparisons[metric_id] = {"mentor_yes": a, "mentor_n": n1, "non_mentor_yes": c, "non_mentor_n": n2,
                                        "risk_ratio": 1.0 if n1 and n2 else None}  # fmt: skip
    for characteristic, (_, levels) in CHARACTERISTICS.items():
        marts.balance[characteristic] = {"test": "chi_square", "statistic": 1.0, "p_value": 0.5, "smd": 0.05}
        for cohort in ("mentor", "non_mentor"):
            answered = draw(st.integers(max(0, size[cohort] - 2), size[cohort]))
            if characteristic == "age":
                marts.demographics[("age", cohort, "mean")] = {
                    "n": answered,
                    "value": 27.0 if answered else None,
                }
                continue
            for lv, n in zip(levels, split(answered, len(levels)), strict=True):
                marts.demographics[(characteristic, cohort, lv)] = {"n": n}
    gave = draw(st.integers(0, size["non_mentor"]))
    for code in range(1, 8):
        marts.reasons.append({"reason_code": code, "reason_label": f"reason {code}", "n": draw(st.integers(0, gave)),
                              "denominator": gave})  # fmt: skip
    marts.data_quality = [{"rule": "out_of_range", "column_name": f"c{i}", "n": n}
                          for i, n in enumerate(draw(st.lists(st.integers(1, 9), max_size=4)))]  # fmt: skip
    return marts


@settings(max_examples=15, deadline=None)
@given(marts=year_marts(), k=st.sampled_from([3, 5, 10]))
def test_any_year_is_protected_without_failing(marts, k: int) -> None:
    """Promise: whatever a year's marts hold (cohorts of 0 to 3, items nobody answered, a class size
    missing), its figures are protected without an error, and the engine's own reader then finds no
    group of 1..k-1 pinned, nor does a whole-number reader of what is printed; every printed count
    of 1..k-1 prints "<k" or is left out with its breakdown."""
    from pipelines.lib.report.figures import year_figures

    figures = year_figures(marts, k)
    assert audit(figures.model, figures.protection) == []
    for name, figure in figures.model.figures.items():
        if figure.printed and 1 <= figure.value < k:
            assert figures.protection.state(name) in (State.SMALL, State.OMITTED), name
    assert_no_small_atom_is_pinned(figures, k)


def assert_no_small_atom_is_pinned(figures, k: int) -> None:
    """No protected group of people of 1..k-1 is pinned by a whole-number reader of what is printed."""
    model = figures.model
    for atom, value in model.atoms.items():
        if atom not in model.unprotected_atoms and 1 <= value < k:
            low, high = integer_range(model, figures.protection, atom, k)
            assert low < high, f"{atom} = {value} is pinned (k = {k})"


def tiny_year(mentors: int, unclassified: int, answers: dict[tuple[str, str], tuple[int, int]]):
    """A year of a few respondents: ``answers`` maps (metric, "mentor" | "other") to (yes, answered);
    every other item is unanswered, and nobody gave a demographic answer or a reason."""
    from pipelines.lib.report.labels import CHARACTERISTICS, EXCLUSIONS, METRICS
    from pipelines.lib.report.marts import YearMarts

    funnel = {
        "mentors": mentors, "non_mentors": 0, "informal": 0, "unclassified": unclassified,
        "respondents": mentors + unclassified, "class_size": None, "instrument_version": "v2",
        "source_sha256": "a" * 64, **{code: 0 for code, *_ in EXCLUSIONS},
    }  # fmt: skip
    marts = YearMarts(2024, funnel)
    for metric_id, metric in METRICS.items():
        mentor_yes, mentor_n = answers.get((metric_id, "mentor"), (0, 0))
        other_yes, other_n = answers.get((metric_id, "other"), (0, 0))
        no_level = next(lv for lv in metric.levels if lv not in metric.yes_levels)
        for cohort in ("mentor", "non_mentor"):
            for lv in metric.levels:
                n = {metric.yes_levels[-1]: mentor_yes, no_level: mentor_n - mentor_yes}.get(lv, 0)
                marts.distributions[(metric_id, cohort, lv)] = {
                    "n": n if cohort == "mentor" else 0,
                    "denominator": mentor_n if cohort == "mentor" else 0,
                }
        rows = {"mentor": (mentor_yes, mentor_n), "non_mentor": (0, 0),
                "all": (mentor_yes + other_yes, mentor_n + other_n)}  # fmt: skip
        for cohort, (x, n) in rows.items():
            marts.metrics[(metric_id, cohort)] = {
                "numerator": x, "denominator": n, "ci_low": None, "ci_high": None, "series_start": 2024,
                "prior_year": None, "change_vs_prior": None, "p_value_vs_prior": None,
            }  # fmt: skip
        marts.comparisons[metric_id] = {"mentor_yes": mentor_yes, "mentor_n": mentor_n, "non_mentor_yes": 0,
                                        "non_mentor_n": 0, "risk_ratio": None}  # fmt: skip
    for characteristic, (_, levels) in CHARACTERISTICS.items():
        marts.balance[characteristic] = {"test": "chi_square", "statistic": 1.0, "p_value": 0.5, "smd": 0.05}
        for cohort in ("mentor", "non_mentor"):
            if characteristic == "age":
                marts.demographics[("age", cohort, "mean")] = {"n": 0, "value": None}
                continue
            for lv in levels:
                marts.demographics[(characteristic, cohort, lv)] = {"n": 0}
    marts.reasons = [{"reason_code": code, "reason_label": f"reason {code}", "n": 0, "denominator": 0}
                     for code in range(1, 8)]  # fmt: skip
    return marts


@pytest.mark.parametrize(
    ("mentors", "unclassified", "answers"),
    [
        # Found by the test above on CI (k = 3): one unclassified respondent said yes and one said no.
        (1, 2, {("value_distinct", "other"): (1, 2)}),
        (2, 2, {**{(m, "mentor"): (2, 2) for m in ("value_distinct", "value_mentee", "value_mentor")},
                ("mentor_again", "mentor"): (0, 2), ("value_mentee", "other"): (1, 2)}),
    ],
)  # fmt: skip
def test_a_year_of_a_few_respondents_has_a_report_that_gives_no_one_away(mentors, unclassified, answers):
    """Promise: a year of three or four respondents at k = 3 is protected without an error, although
    the engine's cautious reader, which takes every small group to be known small, pins the
    unclassified respondents' "yes" and "no" (1 each) from its assumptions alone; and a whole-number
    reader of what the report prints (identities, printed counts, "<k", "not shown", bounds, the
    inputs of shown statistics) pins no protected group of people of 1..k-1."""
    from pipelines.lib.report.figures import year_figures

    k = 3
    figures = year_figures(tiny_year(mentors, unclassified, answers), k)
    assert audit(figures.model, figures.protection) == []
    assert_no_small_atom_is_pinned(figures, k)
