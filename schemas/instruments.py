"""Instrument versions of the survey: the codebook's instruments with their mapping files.

A mapping file (schemas/instruments/) says, for one version of the Qualtrics export, which column holds
each canonical variable of spec §2 and how its values are coded. The codebook (schemas/codebook.yaml)
lists the instruments, the survey years each was used, and the answers each offered. A new version is
a codebook entry and a mapping file, which may start from an earlier one (`based_on`) and list only
what changed; never a new code branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from schemas.codebook import Codebook, CodebookError, InstrumentEntry, codebook

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
    unused: tuple[str, ...]
    metadata: dict[str, Variable]
    variables: dict[str, Variable]
    entry: InstrumentEntry  # the codebook's: years, label, the answers offered

    def required_columns(self) -> set[str]:
        """Every export column the mapping reads or deliberately drops: a delivery must have them all."""
        known = set(self.identifying)
        for variable in [*self.metadata.values(), *self.variables.values()]:
            known.update(variable.source_columns())
        return known

    def known_columns(self) -> set[str]:
        """Every export column the mapping accounts for: the required ones and those it reads past."""
        return self.required_columns() | set(self.unused)


def _choices(spec: Any, book: Codebook, offered: tuple[Any, ...] | None) -> tuple[Choice, ...]:
    if isinstance(spec, str):  # a value set of the codebook: codes are its values, as far as offered
        return tuple(
            Choice(str(a.value), a.label, a.value)
            for a in book.value_sets[spec]
            if offered is None or a.value in offered
        )
    return tuple(Choice(str(c["code"]), str(c["label"]), c["value"]) for c in spec)


def _variable(name: str, spec: dict[str, Any], book: Codebook, offered: tuple[Any, ...] | None) -> Variable:
    kind = spec.get("type", "single" if "choices" in spec else "text")
    return Variable(
        name=name,
        kind=kind,
        column=spec.get("column"),
        choices=_choices(spec["choices"], book, offered) if "choices" in spec else (),
        columns={str(k): int(v) for k, v in spec.get("columns", {}).items()},
        ticked=str(spec.get("ticked", "1")),
        separator=spec.get("separator", ","),
    )


def _mapping(path: Path, book: Codebook, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A mapping file's content, with what it is `based_on` filled in (its variables merged by name)."""
    if path in seen:
        raise CodebookError(path, "based_on", "goes round in a circle", "Base each mapping on an older one.")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    base_name = raw.pop("based_on", None)
    if base_name is None:
        return raw
    base_entry = book.instruments.get(base_name)
    if base_entry is None:
        raise CodebookError(
            path, "based_on", f"names {base_name!r}, not an instrument of the codebook", "Name one."
        )
    merged = _mapping(base_entry.mapping, book, (*seen, path))
    variables = {**merged.get("variables", {}), **raw.pop("variables", {})}
    metadata = {**merged.get("metadata", {}), **raw.pop("metadata", {})}
    return {**merged, **raw, "variables": variables, "metadata": metadata}


def _load(entry: InstrumentEntry, book: Codebook) -> Instrument:
    raw = _mapping(entry.mapping, book)
    if raw.get("instrument") != entry.name:
        raise CodebookError(
            entry.mapping, "instrument", f"is {raw.get('instrument')!r}, but the codebook lists it as {entry.name}",
            "Make the two names agree.",
        )  # fmt: skip
    variables = {}
    for name, spec in raw["variables"].items():
        if name not in book.variables:
            raise CodebookError(
                entry.mapping, f"variables.{name}", "is not a variable of the codebook",
                f"Add {name} to {book.path.name} (variables) or fix the name.",
            )  # fmt: skip
        offered = entry.offers.get(name)
        variables[name] = _variable(name, spec, book, offered)
        canonical = book.variables[name].value_list
        outside = [c.value for c in variables[name].choices if canonical and c.value not in canonical]
        if outside:
            raise CodebookError(
                entry.mapping, f"variables.{name}", f"decodes answers to {outside}, not in its value set {canonical}",
                f"Map each answer to a value of {name} in {book.path.name}, or add the value there.",
            )  # fmt: skip
    return Instrument(
        name=raw["instrument"],
        description=raw["description"],
        header_rows=int(raw["header_rows"]),
        signature=tuple(raw["signature"]),
        codings=tuple(raw["codings"]),
        identifying=tuple(raw.get("identifying", [])),
        unused=tuple(raw.get("unused", [])),
        metadata={k: _variable(k, v, book, None) for k, v in raw["metadata"].items()},
        variables=variables,
        entry=entry,
    )


def load_instruments(book: Codebook) -> tuple[Instrument, ...]:
    """The instruments of a codebook with their mapping files read and checked against it.

    Raises:
        CodebookError: a mapping names a variable the codebook lacks, decodes an answer to a value
            outside the variable's value set, or names another instrument.
    """
    return tuple(_load(entry, book) for entry in book.instruments.values())


@cache
def instruments() -> tuple[Instrument, ...]:
    """Every instrument version this project can read, in the codebook's order (oldest first)."""
    return load_instruments(codebook())
