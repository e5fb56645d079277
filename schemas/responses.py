"""pandera schema of the harmonised response table (spec §2): one row per respondent of one delivery.

Built from the codebook (schemas/codebook.yaml): one column per single-choice or integer variable,
checked against its value set or range. Decoding (harmonise.py) turns export codes and labels into
canonical values; this schema then checks what decoding cannot. Every failure it reports becomes a
data-quality issue and a missing value, never a dropped row.
"""

from __future__ import annotations

from functools import cache

import pandera.pandas as pa

from schemas.codebook import Variable, codebook

# The pandera check names, as failure_cases reports them, and the §5 rule each one stands for.
CHECK_RULES = {"isin": "not_in_code_list", "in_range": "out_of_range"}


def _column(variable: Variable) -> pa.Column:
    if variable.type == "integer":
        low, high = variable.range or (None, None)
        check = pa.Check.in_range(min_value=low, max_value=high)
    else:
        check = pa.Check.isin(variable.value_list)
    # Respondents consented by definition: consent is never missing (§5).
    nullable = variable.name != "consent"
    return pa.Column(
        "Int64" if variable.is_numeric else str,
        checks=[check],
        nullable=nullable,
        # not required: an instrument that does not ask the variable (mentor_prepared before v3) has no column
        required=False,
        description=variable.wordings[0].question,
    )


@cache
def harmonised_responses() -> pa.DataFrameSchema:
    """One row per respondent of one delivery, after harmonisation of the instrument's codes and labels."""
    book = codebook()
    columns = {"respondent_key": pa.Column(str, unique=True, description="salted SHA-256 of ResponseId")}
    columns.update(
        {
            name: _column(variable)
            for name, variable in book.variables.items()
            if variable.type in ("single", "integer")
        }
    )
    columns["consent"] = pa.Column(str, checks=[pa.Check.isin(["yes"])], description="respondents consented")
    return pa.DataFrameSchema(
        columns,
        index=pa.Index(int, checks=[pa.Check.ge(1)], name="row_number"),
        coerce=True,
        # The frame also carries free text and reason flags; they are checked in harmonise.py.
        strict=False,
        name="HarmonisedResponses",
    )
