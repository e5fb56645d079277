"""pandera schemas of the raw shape of each instrument version, built from its mapping file.

Every column the mapping reads or drops must be in the delivery's first header row, as text. A
delivery missing one is refused as a whole (named columns, not a traceback); extra columns are
allowed, because Qualtrics adds embedded-data fields that the survey does not use.
"""

from __future__ import annotations

from functools import cache

import pandera.pandas as pa

from schemas.instruments import Instrument


@cache
def raw_schema(instrument: Instrument) -> pa.DataFrameSchema:
    """The raw shape of one instrument version: its known columns, all text, possibly empty."""
    return pa.DataFrameSchema(
        columns={
            column: pa.Column(
                str, nullable=True, required=True, description=f"{instrument.name} export column"
            )
            for column in sorted(instrument.required_columns())
        },
        strict=False,
        name=f"raw_{instrument.name}",
    )
