"""The one error type for bad input: it names the file, row and column and says what to do."""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery that cannot be loaded, explained for the analyst who has to fix it."""

    def __init__(
        self,
        file: str,
        problem: str,
        action: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.problem = problem
        self.action = action
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __reduce__(self) -> tuple:
        # Pickled when it crosses a process boundary (Dagster's step processes, worker pools): rebuild it
        # from its parts, not from its message.
        return (type(self), (self.file, self.problem, self.action, self.row, self.column))

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.problem}. {self.action}"
