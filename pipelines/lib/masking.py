"""Small-cell suppression for the yearly report (spec ``survey.md`` §9, ``notes/domain.md`` §3).

The warehouse keeps exact figures; only what a reader sees is masked. The rules, with k the minimum
cell size (``SSM_SMALL_CELL_MIN``, default 5):

* a count from 1 to k-1 is shown as ``"<k"``; 0 is shown as ``"0"`` (an empty cell identifies nobody);
* a percentage is masked when its numerator *or* its complement (denominator - numerator) lies in
  1..k-1, because "41 of 42 agree" tells the reader that exactly one person did not;
* a ratio (risk or odds) is masked when any cell of its 2x2 table lies in 1..k-1;
* within a set of counts that add up to a total the report also shows (exclusion reasons, cohorts,
  demographic levels), a single masked count could be recovered by subtraction, so one more count
  is withheld as well (complementary suppression, NCES 2011-603).

Every function is pure and returns a :class:`Cell`, which carries the display text together with
whether it was masked, so that the template can add the footnote marker without any arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

#: Shown instead of a figure whose denominator is 0 (or that is otherwise undefined), spec §8.
NO_DATA = "no data"

#: Shown instead of a percentage, interval, ratio or complementary count that would reveal a small cell.
WITHHELD = "\u2014"  # em dash


@dataclass(frozen=True)
class Cell:
    """One display-ready value.

    Attributes:
        text: What the reader sees ("42", "<5", "85.7%", "—", "no data").
        masked: True when the text hides a small cell (the template adds a footnote marker).
        no_data: True when there is nothing to show because the denominator is 0 or the value is null.
    """

    text: str
    masked: bool = False
    no_data: bool = False

    def as_dict(self) -> dict[str, str | bool]:
        """Return the cell as a plain dict (the report context is plain, JSON-serialisable data)."""
        return asdict(self)


def is_small(n: int | None, k: int) -> bool:
    """Return True when ``n`` is a small cell, i.e. lies in 1..k-1.

    Args:
        n: A count; None (unknown) is never small.
        k: The minimum cell size; counts below it (and above 0) are masked.

    Returns:
        Whether the count must not be shown.
    """
    _check_k(k)
    return n is not None and 1 <= n < k


def mask_count(n: int | None, k: int) -> Cell:
    """Format a count of people (or cells) under the small-cell rule.

    Args:
        n: The count; None when it is unknown.
        k: The minimum cell size.

    Returns:
        ``Cell("<k", masked=True)`` for 1..k-1, ``Cell("0")`` for 0, the number otherwise, and
        ``Cell("no data", no_data=True)`` for None.
    """
    _check_k(k)
    if n is None:
        return Cell(NO_DATA, no_data=True)
    if is_small(n, k):
        return Cell(f"<{k}", masked=True)
    return Cell(str(int(n)))


def percent_masked(numerator: int, denominator: int, k: int) -> bool:
    """Return True when a share ``numerator / denominator`` must not be shown.

    Masked when the numerator or its complement (``denominator - numerator``) lies in 1..k-1.

    Args:
        numerator: People with the attribute.
        denominator: People asked (the numerator's group).
        k: The minimum cell size.

    Returns:
        Whether the percentage (and anything that reveals it: its interval, its numerator) is masked.
    """
    return is_small(numerator, k) or is_small(denominator - numerator, k)


def mask_percent(numerator: int | None, denominator: int | None, k: int, decimals: int = 1) -> Cell:
    """Format ``numerator / denominator`` as a percentage under the small-cell rule.

    Args:
        numerator: People with the attribute (e.g. who agree).
        denominator: People in the group who answered.
        k: The minimum cell size.
        decimals: Decimal places of the percentage.

    Returns:
        ``Cell("no data", no_data=True)`` when the denominator is 0 or either count is unknown;
        ``Cell("—", masked=True)`` when the numerator or its complement lies in 1..k-1;
        otherwise the percentage, e.g. ``Cell("85.7%")``.

    Raises:
        ValueError: For counts that cannot be real (negative, or numerator > denominator).
    """
    _check_k(k)
    if numerator is None or denominator is None or denominator == 0:
        return Cell(NO_DATA, no_data=True)
    if numerator < 0 or denominator < 0 or numerator > denominator:
        raise ValueError(f"impossible share {numerator} of {denominator}")
    if percent_masked(numerator, denominator, k):
        return Cell(WITHHELD, masked=True)
    return Cell(f"{100.0 * numerator / denominator:.{decimals}f}%")


def mask_numerator(numerator: int | None, denominator: int | None, k: int) -> Cell:
    """Format the numerator of a share ("35" in "35 of 42") so that it cannot reveal a small complement.

    Args:
        numerator: People with the attribute.
        denominator: People in the group.
        k: The minimum cell size.

    Returns:
        ``"<k"`` when the numerator itself is small, ``"—"`` (masked) when only its complement is small,
        ``"no data"`` when either is unknown, the number otherwise.
    """
    if numerator is None or denominator is None:
        return Cell(NO_DATA, no_data=True)
    if is_small(numerator, k):
        return mask_count(numerator, k)
    if is_small(denominator - numerator, k):
        return Cell(WITHHELD, masked=True)
    return Cell(str(int(numerator)))


def ratio_masked(a: int, b: int, c: int, d: int, k: int) -> bool:
    """Return True when a risk or odds ratio of the 2x2 table ``[[a, b], [c, d]]`` must not be shown.

    Args:
        a: Mentors who agree.
        b: Mentors who do not agree.
        c: Non-mentors who agree.
        d: Non-mentors who do not agree.
        k: The minimum cell size.

    Returns:
        True when any of the four cells lies in 1..k-1 (zero cells do not mask: they identify nobody).
    """
    return any(is_small(cell, k) for cell in (a, b, c, d))


def suppress_partition(counts: Sequence[int | None], k: int) -> list[Cell]:
    """Mask a set of counts that add up to a total shown elsewhere in the report.

    Primary suppression masks every count in 1..k-1 as ``"<k"``. If that leaves exactly one masked
    count, the reader could recover it as total minus the others, so the smallest other non-zero count
    is withheld too (shown as ``"—"``, masked). Two or more masked counts only reveal their sum.

    Args:
        counts: The parts, in display order (None = unknown, shown as "no data").
        k: The minimum cell size.

    Returns:
        One :class:`Cell` per count, in the same order.
    """
    cells = [mask_count(n, k) for n in counts]
    primary = [i for i, n in enumerate(counts) if is_small(n, k)]
    if len(primary) == 1:
        candidates = [(n, i) for i, n in enumerate(counts) if n is not None and n > 0 and i not in primary]
        if candidates:
            _, secondary = min(candidates)
            cells[secondary] = Cell(WITHHELD, masked=True)
    return cells


def _check_k(k: int) -> None:
    # k = 1 masks nothing (an analyst's internal run may want that); k < 1 or a fraction is a
    # configuration mistake that should fail loudly rather than silently show every cell.
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"small-cell minimum k must be a whole number >= 1, got {k!r}")
