"""How the report writes numbers: percentages, intervals, ratios, p-values and changes.

The only place where report numbers become text, so that the report, its e-mail and the tests that
read them back agree on every character (an en dash in intervals, a true minus sign, non-breaking
spaces inside "p = 0.007").
"""

from __future__ import annotations

MINUS = "\u2212"
NBSP = "\u00a0"
EN_DASH = "\u2013"


def signed(text: str) -> str:
    """Use a true minus sign: a hyphen reads as a dash, and screen readers say 'minus' for U+2212."""
    return text.replace("-", MINUS)


def percent(proportion: float) -> str:
    """A 0..1 proportion as a percentage with 1 decimal: "85.7%"."""
    return f"{100.0 * proportion:.1f}%"


def interval_percent(low: float, high: float) -> str:
    """A 0..1 interval as "72.2-93.3%" (with an en dash)."""
    return f"{100.0 * low:.1f}{EN_DASH}{100.0 * high:.1f}%"


def ratio(value: float) -> str:
    """A risk or odds ratio to 2 decimals."""
    return signed(f"{value:.2f}")


def interval_ratio(low: float, high: float) -> str:
    """A ratio interval as "1.34-2.60" (with an en dash)."""
    return f"{ratio(low)}{EN_DASH}{ratio(high)}"


def p_value(p: float) -> str:
    """A p-value in a table: 3 decimals, or "<0.001"."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_phrase(p: float) -> str:
    """A p-value in a sentence: "p = 0.007" or "p < 0.001", with non-breaking spaces."""
    return f"p{NBSP}<{NBSP}0.001" if p < 0.001 else f"p{NBSP}={NBSP}{p:.3f}"


def points(change: float) -> str:
    """A change of a 0..1 proportion in percentage points: "+3.2 points", "-10.5 points" (true minus)."""
    return signed(f"{100.0 * change:+.1f} points")


def smd(value: float) -> str:
    """A standardised mean difference to 2 decimals."""
    return signed(f"{value:.2f}")


def span(first: int, last: int) -> str:
    """A range of survey years: "2016-2025" (with an en dash), or "2016" for one year."""
    return str(first) if first == last else f"{first}{EN_DASH}{last}"
