"""Small-cell protection that holds against subtraction and bounds (spec ``survey.md`` §9, rev 2).

A report shows counts, shares and statistics that are all made of the same people. Hiding each small
count on its own is not enough: "all respondents minus mentors minus non-mentors" is the informal
group, a total minus its shown parts is the hidden part, and two hidden counts that must add up to 2
are both 1. This module decides what one survey year's report may show so that no count from 1 to
k-1 can be worked out from everything it shows together.

The model (:class:`Model`):

* **atoms** are counts of disjoint groups of people (mentors who agreed with an item, informal
  respondents who did not, non-mentors in one specialty group, ...), non-negative integers with their
  true values. Different breakdowns of the same group have their own atoms, tied together by
  **identities** (the levels of gender among mentors add up to the mentors).
* **figures** are sums of atoms that the report prints (a count) or that a printed share gives away
  (the complement ``denominator - numerator`` of a percentage).
* **statistics** (a ratio, a test, a standardised difference) are modelled as giving away every count
  they are computed from, which is what an exact p-value next to known group sizes does.

The reader (:func:`audit`) knows the identities, every shown figure exactly, that a "<k" figure lies
in 1..k-1, that a figure "not shown" although not small is at least k, the inputs of every shown
statistic, and, to err on the side of caution, that every protected group whose true size is 1..k-1
is small. A group is worked out when the linear programme "minimise / maximise its size under all of
that" leaves a single whole number. This is the reader of the rev 2 rule: it does subtraction across
any number of identities at once, and bounds.

:func:`protect` applies primary suppression (every count 1..k-1 is "<k"; a share whose complement is
1..k-1 loses its numerator; a statistic with a small input is hidden), then hides more, one figure at
a time, until the reader works nothing out: for each group that is still exposed, the cheapest shown
figure or statistic around it that protects it (lowest ``priority``, then the smallest count; a
figure that alone does not protect it is hidden only when no single one does). Zeros are never
hidden (an empty cell identifies nobody, and a hidden zero would read as "at least k").

Not modelled: the joint pattern of a multi-select question (each reason is its own yes/no split of
the same people), and inversions of rounded statistics beyond "a shown statistic gives away its
counts". The linear programme is the relaxation of the whole-number problem; it can only leave more
values open than a whole-number search, so a group it finds pinned is pinned, and one it leaves open
is open in the relaxation (docs/decisions.md, "Small cells").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from scipy.optimize import linprog


class State(StrEnum):
    """How a figure appears in the report."""

    SHOWN = "shown"  # the exact count
    SMALL = "small"  # "<k": 1..k-1
    WITHHELD = "withheld"  # "not shown" although not small: at least k
    UNPRINTED = "unprinted"  # never printed as a count (a group behind an identity, a complement)
    OMITTED = "omitted"  # part of a breakdown left out of the report because nothing else protects it


@dataclass(frozen=True)
class Figure:
    """A sum of atoms that the report prints or that a printed share gives away.

    Attributes:
        name: Unique key, used by the report to look up how to show it.
        terms: Atom -> coefficient (1 for a plain sum; -1 in a complement).
        value: The true count.
        priority: Cost of hiding it: lower is hidden first when more must be hidden.
        printed: Whether the report prints this count (else it only takes part in identities).
        protected: Whether a value 1..k-1 must not be worked out (False for the number who skipped
            a question, which reveals no answer).
    """

    name: str
    terms: Mapping[str, int]
    value: int
    priority: int
    printed: bool = True
    protected: bool = True


@dataclass(frozen=True)
class Statistic:
    """A figure computed from counts (ratio, test, SMD): shown, it gives away every count it uses."""

    name: str
    uses: tuple[str, ...]  # figure names
    priority: int


@dataclass
class Model:
    """The counts of one report (usually one survey year) and how they hang together."""

    atoms: dict[str, int] = field(default_factory=dict)
    unprotected_atoms: set[str] = field(default_factory=set)
    identities: list[dict[str, int]] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)
    statistics: dict[str, Statistic] = field(default_factory=dict)
    shares: dict[tuple[str, str], str] = field(default_factory=dict)  # (numerator, denominator) -> complement
    breakdowns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> printed figures

    def atom(self, name: str, value: int, *, protected: bool = True) -> str:
        """Declare a group of people by its true size; returns the name."""
        if name in self.atoms:
            raise ValueError(f"atom {name!r} declared twice")
        value = int(value)
        if value < 0:
            raise ValueError(f"atom {name!r} has a negative count {value}")
        self.atoms[name] = value
        if not protected:
            self.unprotected_atoms.add(name)
        return name

    def identity(self, terms: Mapping[str, int]) -> None:
        """Declare ``sum(coefficient x atom) == 0``, something every reader knows (a total and its parts)."""
        terms = {name: int(c) for name, c in terms.items() if c}
        self._check_atoms(terms, "identity")
        total = sum(c * self.atoms[name] for name, c in terms.items())
        if total != 0:
            raise ValueError(f"identity {terms} does not hold on the true counts (off by {total})")
        self.identities.append(terms)

    def partition(self, whole: str, parts: Iterable[str]) -> None:
        """Declare that the atoms ``parts`` add up to the atom ``whole``."""
        self.identity({whole: 1, **{part: -1 for part in parts}})

    def figure(
        self,
        name: str,
        atoms: Iterable[str] | Mapping[str, int],
        *,
        priority: int,
        printed: bool = True,
        protected: bool = True,
    ) -> str:
        """Declare a count the report prints (or that a printed share gives away); returns the name."""
        if name in self.figures:
            raise ValueError(f"figure {name!r} declared twice")
        terms = dict(atoms) if isinstance(atoms, Mapping) else dict.fromkeys(atoms, 1)
        self._check_atoms(terms, f"figure {name!r}")
        value = sum(c * self.atoms[a] for a, c in terms.items())
        self.figures[name] = Figure(name, terms, value, priority, printed, protected)
        return name

    def share(self, numerator: str, denominator: str, *, priority: int = 0) -> str:
        """Declare a printed percentage ``numerator / denominator``; its complement becomes protected.

        Returns the complement figure's name (``"<numerator>~"``).
        """
        num, den = self.figures[numerator], self.figures[denominator]
        terms = dict(den.terms)
        for atom, c in num.terms.items():
            terms[atom] = terms.get(atom, 0) - c
        complement = self.figure(
            f"{numerator}~", {a: c for a, c in terms.items() if c}, priority=priority, printed=False
        )
        self.shares[(numerator, denominator)] = complement
        return complement

    def breakdown(self, name: str, figures: Iterable[str]) -> str:
        """Declare printed figures that form one table's breakdown (a cohort's levels, an item's answers).

        When a group cannot be protected by hiding single figures, the report leaves a whole
        breakdown out (and says so) rather than print figures that give the group away.
        """
        figures = tuple(figures)
        unknown = [f for f in figures if f not in self.figures]
        if unknown:
            raise ValueError(f"breakdown {name!r} has unknown figures {unknown}")
        self.breakdowns[name] = figures
        return name

    def statistic(self, name: str, uses: Iterable[str], *, priority: int) -> str:
        """Declare a statistic computed from the figures ``uses``; returns the name."""
        uses = tuple(uses)
        unknown = [u for u in uses if u not in self.figures]
        if unknown:
            raise ValueError(f"statistic {name!r} uses unknown figures {unknown}")
        self.statistics[name] = Statistic(name, uses, priority)
        return name

    def _check_atoms(self, terms: Mapping[str, int], what: str) -> None:
        unknown = [a for a in terms if a not in self.atoms]
        if unknown:
            raise ValueError(f"{what} refers to undeclared atoms {unknown}")


@dataclass
class Protection:
    """What the report may show: the state of every figure and whether each statistic is shown."""

    k: int
    states: dict[str, State]
    statistics: dict[str, bool]
    model: Model
    omitted: frozenset[str] = frozenset()  # breakdowns left out of the report

    def state(self, figure: str) -> State:
        """The state of one figure."""
        return self.states[figure]

    def shown(self, figure: str) -> bool:
        """Whether the exact count of a figure may be printed."""
        return self.states[figure] is State.SHOWN

    def statistic_shown(self, name: str) -> bool:
        """Whether a statistic may be printed."""
        return self.statistics[name]

    def share_display(self, numerator: str, denominator: str) -> str:
        """How the percentage ``numerator / denominator`` may be printed.

        Returns:
            ``"shown"`` (both counts shown, so the share adds nothing), ``"no_data"`` (denominator 0),
            ``"more_than"`` or ``"less_than"`` (the share is hidden only because its complement or its
            numerator is 1..k-1 and the denominator is shown: then "more than (n-k+1)/n" or "less than
            k/n" says no more than "<k"), or ``"hidden"``.
        """
        num, den = self.model.figures[numerator], self.model.figures[denominator]
        if den.value == 0:
            return "no_data"
        if self.shown(numerator) and self.shown(denominator):
            return "shown"
        if not self.shown(denominator) or self.states[numerator] in (State.UNPRINTED, State.OMITTED):
            return "hidden"
        complement = self.model.figures[self.model.shares[(numerator, denominator)]]
        if _small(num.value, self.k) and not _small(complement.value, self.k) and complement.value > 0:
            return "less_than"
        if _small(complement.value, self.k) and not _small(num.value, self.k) and num.value > 0:
            return "more_than"
        return "hidden"


def _small(n: int, k: int) -> bool:
    return 1 <= n < k


def check_k(k: int) -> int:
    """Return k as an int, or raise ValueError for a minimum cell size that cannot protect anyone.

    k = 1 masks nothing (an analyst's internal run). k = 2 would print "<2", which can only mean 1, so
    it is refused rather than silently disclosing every cell it claims to hide.
    """
    if isinstance(k, bool) or int(k) != k or k < 1 or k == 2:
        raise ValueError(
            f"small-cell minimum k must be 1 (no masking) or a whole number of at least 3, got {k!r}: "
            "with k = 2 a count shown as '<2' can only be 1"
        )
    return int(k)


class Unprotectable(ValueError):
    """A group can be worked out and nothing that may still be hidden protects it.

    Attributes:
        group: The exposed group.
        binding: The figures and statistics that pin it (those a caller could drop from the report).
    """

    def __init__(self, group: str, value: int, binding: list[tuple[str, str]]) -> None:
        super().__init__(
            f"{group} (true size {value}) can be worked out and nothing that may still be hidden protects it "
            f"(it is pinned by {', '.join(name for _, name in binding) or 'identities alone'})"
        )
        self.group = group
        self.binding = binding


#: Prefix of an omission that is one figure rather than a declared breakdown.
SINGLE = "figure:"


def _left_out(model: Model, omission: str) -> tuple[str, ...]:
    if omission.startswith(SINGLE):
        return (omission.removeprefix(SINGLE),)
    return model.breakdowns[omission]


def protect(
    model: Model,
    k: int,
    *,
    locked: Mapping[str, State] | None = None,
    locked_statistics: Mapping[str, bool] | None = None,
    omitted: Iterable[str] = (),
) -> Protection:
    """Decide what the report may show: primary suppression, then more until :func:`audit` finds nothing.

    When a group cannot be protected by hiding single figures (a total of 2 split into two parts of 1,
    both printed as "<k", or a locked figure that pins it), a whole breakdown around it is left out of
    the report (:meth:`Model.breakdown`, the cheapest that touches the group), and the decision starts
    again without it.

    Args:
        model: The year's counts.
        k: The minimum cell size (``SSM_SMALL_CELL_MIN``).
        locked: Figures whose state was decided before (by an earlier pass over the figures that matter
            more) and may not change; only the others are hidden to protect what they would expose.
        locked_statistics: Likewise for statistics (shown or not).
        omitted: Breakdowns that an earlier pass left out (they stay out).

    Returns:
        The states of every figure and statistic, and the breakdowns left out.

    Raises:
        Unprotectable: When a group can be worked out and no figure or breakdown around it may go.
        ValueError: For an impossible k.
    """
    k = check_k(k)
    left_out: set[str] = set(omitted)
    while True:
        try:
            return _protect(model, k, dict(locked or {}), dict(locked_statistics or {}), frozenset(left_out))
        except Unprotectable as error:
            breakdown = _breakdown_to_omit(model, error, left_out, locked or {})
            if breakdown is None:
                raise
            left_out.add(breakdown)


def _breakdown_to_omit(
    model: Model, error: Unprotectable, omitted: set[str], locked: Mapping[str, State]
) -> str | None:
    """What to leave out: the cheapest declared breakdown, not left out yet and with nothing locked,
    that holds the exposed group or a printed figure that pins it; else the cheapest such figure."""
    names = {error.group.removeprefix("atom:"), error.group.removesuffix("~")}
    names |= {name for _, name in error.binding}
    found = [
        (max(model.figures[f].priority for f in figures), len(figures), breakdown)
        for breakdown, figures in model.breakdowns.items()
        if breakdown not in omitted and names & set(figures) and not set(figures) & set(locked)
    ]
    if found:
        return min(found)[2]
    singles = [
        (model.figures[name].priority, model.figures[name].value, f"{SINGLE}{name}")
        for name in names
        if name in model.figures
        and f"{SINGLE}{name}" not in omitted
        and model.figures[name].printed
        and name not in locked
    ]
    return min(singles)[2] if singles else None


def _protect(
    model: Model,
    k: int,
    locked: dict[str, State],
    locked_statistics: dict[str, bool],
    omitted: frozenset[str],
) -> Protection:
    left_out = {f for breakdown in omitted for f in _left_out(model, breakdown)}
    states: dict[str, State] = {}
    for name, figure in model.figures.items():
        if name in left_out:
            states[name] = State.OMITTED
        elif name in locked:
            states[name] = locked[name]
        elif not figure.printed:
            states[name] = State.UNPRINTED
        elif _small(figure.value, k):
            states[name] = State.SMALL
        else:
            states[name] = State.SHOWN
    # A share whose complement is small loses its numerator ("41 of 42 agreed" says that one did not).
    for (numerator, _denominator), complement in sorted(model.shares.items()):
        numerator_figure = model.figures[numerator]
        small_complement = _small(model.figures[complement].value, k)
        free = numerator not in locked
        if free and small_complement and states[numerator] is State.SHOWN and numerator_figure.value > 0:
            states[numerator] = State.WITHHELD
    statistics = {
        name: locked_statistics.get(name, not any(_small(model.figures[f].value, k) for f in stat.uses))
        for name, stat in sorted(model.statistics.items())
    }
    protection = Protection(k, states, statistics, model, omitted)
    if k == 1:
        return protection
    reader = _Reader(model, k)
    # Hiding only ever weakens what the reader knows (an exact count becomes "at least k", a
    # statistic's inputs become unknown), so it cannot expose a group that was safe: one pass over
    # the groups exposed by primary suppression is enough.
    for group in reader.exposed(protection):
        while reader.pinned(protection, group):
            _hide_around(reader, protection, group, set(locked) | left_out, set(locked_statistics))
    return protection


def audit(model: Model, protection: Protection) -> list[str]:
    """The protected groups of size 1..k-1 that a reader can work out from what ``protection`` shows."""
    if protection.k == 1:
        return []
    return _Reader(model, protection.k).exposed(protection)


def feasible_range(model: Model, protection: Protection, figure: str) -> tuple[int, float]:
    """The whole numbers a reader of the report can still take a figure to be: (lowest, highest).

    The reader here knows only what the report prints (not which groups are small, as the cautious
    reader of :func:`protect` does), so the range is as wide as a reader's. The highest is
    ``math.inf`` when nothing shown bounds the figure from above. Used to show a statistic's
    conclusion only when it holds for every value the report leaves open.
    """
    reader = _Reader(model, protection.k, cautious=False)
    constraints, fixed = reader._knowledge(protection)
    terms = dict(model.figures[figure].terms)
    free = [a for a in terms if a not in fixed]
    value = model.figures[figure].value
    if not free:
        return value, value
    atoms = sorted(_Components(reader.atom_names, constraints, fixed).closure(free))
    low, _ = reader._optimise(terms, atoms, constraints, fixed, sign=1)
    high, _ = reader._optimise(terms, atoms, constraints, fixed, sign=-1)
    return math.ceil(low - 1e-7), (math.floor(-high + 1e-7) if math.isfinite(high) else math.inf)


def _hide_around(
    reader: _Reader, protection: Protection, exposed: str, locked: set[str], locked_statistics: set[str]
) -> None:
    """Hide the cheapest shown figure or statistic whose hiding protects ``exposed``.

    Only what pins the group is worth hiding: the figures and statistics whose constraints bind the
    reader's smallest or largest value of the group (a non-zero dual value in either programme; a
    constraint with a zero dual can be relaxed without moving that optimum). They are tried cheapest
    first; when none protects the group on its own, the cheapest is hidden and the search goes on.
    """
    binding = reader.binding(protection, exposed)
    candidates = [
        (kind, name)
        for kind, name in binding
        if name not in (locked if kind == "figure" else locked_statistics)
    ]
    if not candidates:
        printed = sorted(
            ("figure", name)
            for _, name in reader.sources(protection, exposed)
            if name in reader.model.figures
            and protection.states[name] not in (State.UNPRINTED, State.OMITTED)
        )
        raise Unprotectable(exposed, reader.value(exposed), printed)
    for kind, name in candidates:
        trial = _with_hidden(protection, kind, name)
        if not reader.pinned(trial, exposed):
            _hide(protection, kind, name)
            return
    _hide(protection, *candidates[0])


def _with_hidden(protection: Protection, kind: str, name: str) -> Protection:
    trial = Protection(
        protection.k,
        dict(protection.states),
        dict(protection.statistics),
        protection.model,
        protection.omitted,
    )
    _hide(trial, kind, name)
    return trial


def _hide(protection: Protection, kind: str, name: str) -> None:
    if kind == "figure":
        protection.states[name] = State.WITHHELD
    else:
        protection.statistics[name] = False


@dataclass(frozen=True)
class _Constraint:
    """low <= sum(coefficient x atom) <= high, known to the reader, and why they know it."""

    terms: dict[str, int]
    low: float
    high: float
    # ("identity" | "figure" | "statistic" | "small" | "withheld" | "assumed", name); "assumed" is
    # the cautious reader's assumption that a group is small, where nothing printed says so.
    source: tuple[str, str]


def _fixes(constraint: _Constraint) -> bool:
    """Whether the constraint fixes one atom (a one-atom equality with coefficient 1)."""
    terms = constraint.terms
    return len(terms) == 1 and constraint.low == constraint.high and next(iter(terms.values())) == 1


class _Reader:
    """The linear programmes of a reader who knows everything the report shows."""

    def __init__(self, model: Model, k: int, cautious: bool = True) -> None:
        self.model = model
        self.k = k
        # Cautious (when deciding what to hide): the reader is also taken to know which protected
        # groups are small. Not cautious (when saying what a reader can still believe): only what
        # the report prints.
        self.cautious = cautious
        self.atom_names = sorted(model.atoms)
        # Every protected group, once per distinct set of people: protected atoms and figures (a
        # figure of one atom and the complement of a share are often the same group as an atom).
        self.groups: dict[str, dict[str, int]] = {}
        seen: dict[frozenset[tuple[str, int]], str] = {}
        candidates = [(f"atom:{a}", {a: 1}) for a in self.atom_names if a not in model.unprotected_atoms]
        candidates += [(f.name, dict(f.terms)) for f in model.figures.values() if f.protected]
        for name, terms in candidates:
            key = frozenset(terms.items())
            if key not in seen:
                seen[key] = name
                self.groups[name] = terms
        self.values = {name: self._value(terms) for name, terms in self.groups.items()}
        self._printed_only: _Reader | None = None  # the reader of what is printed, made when needed
        self._assumptions_pin: dict[tuple[str, frozenset[tuple[str, str]]], bool] = {}

    def _value(self, terms: Mapping[str, int]) -> int:
        return sum(c * self.model.atoms[a] for a, c in terms.items())

    def value(self, group: str) -> int:
        return self.values[group]

    # -- what the reader knows ---------------------------------------------------------------------

    def _knowledge(self, protection: Protection) -> tuple[list[_Constraint], set[str]]:
        """The constraints the reader knows, and the atoms fixed by a one-atom equality."""
        k = self.k
        constraints = [
            _Constraint(terms, 0, 0, ("identity", str(i))) for i, terms in enumerate(self.model.identities)
        ]
        for name, figure in self.model.figures.items():
            state = protection.states[name]
            if state is State.SHOWN:
                constraints.append(
                    _Constraint(dict(figure.terms), figure.value, figure.value, ("figure", name))
                )
            elif state is State.SMALL:
                constraints.append(_Constraint(dict(figure.terms), 1, k - 1, ("small", name)))
            elif state is State.WITHHELD:
                constraints.append(_Constraint(dict(figure.terms), k, math.inf, ("withheld", name)))
        for name, stat in self.model.statistics.items():
            if protection.statistics[name]:
                for used in stat.uses:
                    figure = self.model.figures[used]
                    constraints.append(
                        _Constraint(dict(figure.terms), figure.value, figure.value, ("statistic", name))
                    )
        # A share printed as a bound says that its complement ("more than") or its numerator ("less
        # than") is 1..k-1.
        for (numerator, denominator), complement in self.model.shares.items():
            display = protection.share_display(numerator, denominator)
            small = {"more_than": complement, "less_than": numerator}.get(display)
            if small is not None:
                constraints.append(
                    _Constraint(dict(self.model.figures[small].terms), 1, k - 1, ("small", small))
                )
        if not self.cautious:
            return constraints, {next(iter(c.terms)) for c in constraints if _fixes(c)}
        # Cautious: every protected group of size 1..k-1 is known to be small, printed or not, except
        # the parts of a breakdown left out of the report and their shares' complements (nothing of
        # them is printed).
        omitted = {name for name, state in protection.states.items() if state is State.OMITTED}
        omitted |= {
            complement for (numerator, _), complement in self.model.shares.items() if numerator in omitted
        }
        left_out = {frozenset(self.model.figures[name].terms.items()) for name in omitted}
        printed_small = {frozenset(c.terms.items()) for c in constraints if c.source[0] == "small"}
        for name, terms in self.groups.items():
            key = frozenset(terms.items())
            if _small(self.values[name], k) and key not in left_out and key not in printed_small:
                constraints.append(_Constraint(terms, 1, k - 1, ("assumed", name)))
        fixed = {next(iter(c.terms)) for c in constraints if _fixes(c)}
        return constraints, fixed

    def exposed(self, protection: Protection) -> list[str]:
        """Protected groups of size 1..k-1 that the reader pins to one whole number, in a stable order."""
        constraints, fixed = self._knowledge(protection)
        components = _Components(self.atom_names, constraints, fixed)
        return [
            name
            for name in sorted(self.groups)
            if _small(self.values[name], self.k)
            and self._range(name, constraints, fixed, components)[0]
            and not self._pinned_by_assumptions_alone(protection, name, constraints)
        ]

    def pinned(self, protection: Protection, group: str) -> bool:
        constraints, fixed = self._knowledge(protection)
        components = _Components(self.atom_names, constraints, fixed)
        return self._range(group, constraints, fixed, components)[0] and not (
            self._pinned_by_assumptions_alone(protection, group, constraints)
        )

    def _pinned_by_assumptions_alone(
        self, protection: Protection, group: str, constraints: list[_Constraint]
    ) -> bool:
        """Whether a pin is the cautious reader's own doing: its assumptions alone pin the group, and
        a reader of what the report prints cannot.

        The identities and the assumption that every small group is known to be small can pin a group
        before anything is printed (k = 3: the "yes" and the "no" to an item among two unclassified
        respondents, each taken to be 1..2 and adding up to at most 2, are 1 each). Nothing hidden or
        left out can undo that, so without this a year of three respondents could have no report,
        although its report gives nothing away. A pin that needs anything printed still counts.
        """
        if not self.cautious:
            return False
        assumptions = [c for c in constraints if c.source[0] in ("identity", "assumed")]
        key = (group, frozenset(c.source for c in assumptions))
        if key not in self._assumptions_pin:
            components = _Components(self.atom_names, assumptions, set())
            self._assumptions_pin[key] = self._range(group, assumptions, set(), components)[0]
        if not self._assumptions_pin[key]:
            return False
        if self._printed_only is None:
            self._printed_only = _Reader(self.model, self.k, cautious=False)
        return not self._printed_only.pinned(protection, group)

    def sources(self, protection: Protection, group: str) -> set[tuple[str, str]]:
        """Every constraint (kind, name) that binds the group's range."""
        constraints, fixed = self._knowledge(protection)
        components = _Components(self.atom_names, constraints, fixed)
        return self._range(group, constraints, fixed, components, with_sources=True)[1]

    def binding(self, protection: Protection, group: str) -> list[tuple[str, str]]:
        """Shown figures (not zero) and statistics whose constraints bind the group's range, cheapest first."""
        sources = self.sources(protection, group)
        found = set()
        for kind, name in sources:
            if kind == "figure" and self.model.figures[name].value > 0:
                figure = self.model.figures[name]
                found.add((figure.priority, figure.value, "figure", name))
            elif kind == "statistic":
                found.add((self.model.statistics[name].priority, 0, "statistic", name))
        return [(kind, name) for _, _, kind, name in sorted(found)]

    def _range(
        self,
        group: str,
        constraints: list[_Constraint],
        fixed: set[str],
        components: _Components,
        with_sources: bool = False,
    ) -> tuple[bool, set[tuple[str, str]]]:
        """Whether the reader pins the group to one whole number, and the sources that bind it."""
        terms = self.groups[group]
        free = [a for a in terms if a not in fixed]
        atoms = sorted(components.closure(free))
        # Atoms fixed by a one-atom equality (a cohort's size, shown) enter the programmes as
        # constants, so their equalities have no dual value: count each as binding when its atom is
        # in the group or in a constraint of the group's component.
        touched = set(terms) & fixed
        for c in constraints:
            if set(c.terms) & set(atoms):
                touched |= set(c.terms) & fixed
        sources = {c.source for c in constraints if _fixes(c) and set(c.terms) <= touched}
        if not free:
            return True, sources
        low, low_sources = self._optimise(terms, atoms, constraints, fixed, sign=1)
        if not with_sources and low <= self.values[group] - 1 + 1e-7:
            return False, set()  # it can be smaller than it is: not pinned, no need for the maximum
        high, high_sources = self._optimise(terms, atoms, constraints, fixed, sign=-1)
        pinned = math.isfinite(high) and math.ceil(low - 1e-7) >= math.floor(-high + 1e-7)
        return pinned, sources | low_sources | high_sources

    def _optimise(
        self,
        target: Mapping[str, int],
        atoms: list[str],
        constraints: list[_Constraint],
        fixed: set[str],
        sign: int,
    ) -> tuple[float, set[tuple[str, str]]]:
        """min (sign=1) or -max (sign=-1) of the target over the component ``atoms``, and the binding sources."""
        column = {a: i for i, a in enumerate(atoms)}
        fixed_values = {a: self.model.atoms[a] for a in fixed}
        a_eq, b_eq, eq_sources, a_ub, b_ub, ub_sources = [], [], [], [], [], []
        for c in constraints:
            inside = {a: v for a, v in c.terms.items() if a in column}
            if not inside:
                continue
            offset = sum(v * fixed_values[a] for a, v in c.terms.items() if a not in column)
            row = np.zeros(len(atoms))
            for a, v in inside.items():
                row[column[a]] = v
            if c.low == c.high:
                a_eq.append(row)
                b_eq.append(c.low - offset)
                eq_sources.append(c.source)
                continue
            if math.isfinite(c.high):
                a_ub.append(row)
                b_ub.append(c.high - offset)
                ub_sources.append(c.source)
            if c.low > -math.inf:
                a_ub.append(-row)
                b_ub.append(offset - c.low)
                ub_sources.append(c.source)
        objective = np.zeros(len(atoms))
        for a, v in target.items():
            if a in column:
                objective[column[a]] = sign * v
        constant = sign * sum(v * fixed_values[a] for a, v in target.items() if a not in column)
        result = linprog(
            objective,
            A_ub=np.array(a_ub) if a_ub else None,
            b_ub=np.array(b_ub) if b_ub else None,
            A_eq=np.array(a_eq) if a_eq else None,
            b_eq=np.array(b_eq) if b_eq else None,
            bounds=(0, None),
            method="highs",
        )
        if result.status == 3:  # unbounded: the reader has no bound on this side
            return -math.inf, set()
        if result.status != 0:
            raise ValueError(
                f"the reader's constraints have no solution ({result.message}): a bug in the model"
            )
        sources = set()
        if a_eq:
            sources |= {
                src for src, dual in zip(eq_sources, result.eqlin.marginals, strict=True) if abs(dual) > 1e-9
            }
        if a_ub:
            sources |= {
                src
                for src, dual in zip(ub_sources, result.ineqlin.marginals, strict=True)
                if abs(dual) > 1e-9
            }
        return float(result.fun) + constant, sources


class _Components:
    """Connected components of the free atoms, linked by the constraints they share."""

    def __init__(self, atoms: list[str], constraints: list[_Constraint], fixed: set[str]) -> None:
        self.parent = {a: a for a in atoms}
        self.fixed = fixed
        for c in constraints:
            free = [a for a in c.terms if a not in fixed]
            for a in free[1:]:
                self._union(free[0], a)
        self.members: dict[str, set[str]] = {}
        for a in atoms:
            if a not in fixed:
                self.members.setdefault(self._find(a), set()).add(a)

    def _find(self, a: str) -> str:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def closure(self, atoms: Iterable[str]) -> set[str]:
        """Every free atom connected to any of ``atoms``."""
        out: set[str] = set()
        for a in atoms:
            if a not in self.fixed:
                out |= self.members[self._find(a)]
        return out
