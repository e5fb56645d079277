"""reference/class_sizes.csv, the class size per survey year that the analyst maintains (spec §5)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from pipelines.lib.errors import DeliveryError

# A sanity bound against typing errors, not a rule of the spec: large enough for a consortium of
# schools answering together (the benchmark's 50,000 respondents a year).
MAX_CLASS_SIZE = 100_000


class ClassSizes(pa.DataFrameModel):
    """reference/class_sizes.csv: one row per survey year, maintained by the analyst."""

    survey_year: int = pa.Field(ge=1990, le=2100, unique=True, description="graduation year of the class")
    class_size: int = pa.Field(gt=0, le=MAX_CLASS_SIZE, description="students in the graduating class")

    class Config:
        strict = True
        coerce = True


def empty_class_sizes() -> pd.DataFrame:
    """The frame of a data folder without reference/class_sizes.csv."""
    return pd.DataFrame({"survey_year": pd.Series(dtype=int), "class_size": pd.Series(dtype=int)})


def read_class_sizes(path: Path) -> pd.DataFrame:
    """The validated class sizes, or a DeliveryError naming the row, column and value to fix."""
    frame = pd.read_csv(path, dtype=str).apply(lambda c: c.str.strip())
    try:
        return ClassSizes.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        first = err.failure_cases.iloc[0]
        row = None if pd.isna(first["index"]) else int(first["index"]) + 2  # +1 header, +1 from zero
        value = first["failure_case"]
        value = value.item() if hasattr(value, "item") else value  # 6300, not np.int64(6300)
        raise DeliveryError(
            str(path),
            f"fails check {first['check']} with value {value!r}",
            "Fix the file: two columns survey_year,class_size, one row per year, whole numbers.",
            row=row,
            column=None if pd.isna(first["column"]) else str(first["column"]),
        ) from None
