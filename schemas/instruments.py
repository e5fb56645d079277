"""Instrument versions of the survey, loaded from the mapping files in schemas/instruments/.

A mapping file says, for one version of the Qualtrics export, which column holds each canonical variable
of spec §2 and how its values are coded. Next year's v3 is a new YAML file here, not a new code branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"


@dataclass(frozen=True)
class Choice:
    """One answer option: its numeric export code, its choice-text label and its canonical value."""

    code: str
    label: str
    value: Any


@dataclass(frozen=True)
class Variable:
    """How one canonical variable is exported by one instrument version."""

    name: str
    kind: str  # single | integer | text | multi_columns | multi_joined
    column: str | None = None
    choices: tuple[Choice, ...] = ()
    columns: dict[str, int] = field(default_factory=dict)  # multi_columns: export column -> code
    ticked: str = "1"
    separator: str = ","

    def source_columns(self) -> list[str]:
        """Export columns this variable is read from."""
        return list(self.columns) if self.kind == "multi_columns" else [self.column] if self.column else []


@dataclass(frozen=True, eq=False)
class Instrument:
    """One export layout of the survey (spec §3)."""

    name: str
    description: str
    header_rows: int
    signature: tuple[str, ...]
    codings: tuple[str, ...]
    identifying: tuple[str, ...]
    metadata: dict[str, Variable]
    variables: dict[str, Variable]

    def known_columns(self) -> set[str]:
        """Every export column the mapping accounts for (read, or deliberately dropped)."""
        known = set(self.identifying)
        for variable in [*self.metadata.values(), *self.variables.values()]:
            known.update(variable.source_columns())
        return known


@cache
def canonical() -> dict[str, Any]:
    """The canonical code lists, branches and ranges of spec §2."""
    return yaml.safe_load((INSTRUMENTS_DIR / "canonical.yaml").read_text(encoding="utf-8"))


def _choices(spec: Any) -> tuple[Choice, ...]:
    if isinstance(spec, str):  # a named canonical list: codes are the canonical values
        return tuple(Choice(str(c["code"]), c["label"], c["code"]) for c in canonical()[spec])
    return tuple(Choice(str(c["code"]), str(c["label"]), c["value"]) for c in spec)


def _variable(name: str, spec: dict[str, Any]) -> Variable:
    kind = spec.get("type", "single" if "choices" in spec else "text")
    return Variable(
        name=name,
        kind=kind,
        column=spec.get("column"),
        choices=_choices(spec["choices"]) if "choices" in spec else (),
        columns={str(k): int(v) for k, v in spec.get("columns", {}).items()},
        ticked=str(spec.get("ticked", "1")),
        separator=spec.get("separator", ","),
    )


def _load(path: Path) -> Instrument:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Instrument(
        name=raw["instrument"],
        description=raw["description"],
        header_rows=int(raw["header_rows"]),
        signature=tuple(raw["signature"]),
        codings=tuple(raw["codings"]),
        identifying=tuple(raw.get("identifying", [])),
        metadata={k: _variable(k, v) for k, v in raw["metadata"].items()},
        variables={k: _variable(k, v) for k, v in raw["variables"].items()},
    )


@cache
def instruments() -> tuple[Instrument, ...]:
    """Every instrument version this project can read, oldest first."""
    return tuple(_load(p) for p in sorted(INSTRUMENTS_DIR.glob("v*.yaml")))
