"""pandera schema of the harmonised response table (spec §2): one row per respondent of one delivery.

Decoding (harmonise.py) turns export codes and labels into canonical values; this schema then checks
what decoding cannot: ranges and value sets. Every failure it reports becomes a data-quality issue and a
missing value, never a dropped row.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Index, Series

from schemas.instruments import canonical

YES_NO = ["yes", "no"]
LIKERT5 = [1, 2, 3, 4, 5]
AGE_RANGE = tuple(canonical()["ranges"]["age"])
MENTEES_RANGE = tuple(canonical()["ranges"]["mentees_count"])
SPECIALTY_CODES = [s["code"] for s in canonical()["specialties"]]

# The pandera check names, as failure_cases reports them, and the §5 rule each one stands for.
CHECK_RULES = {"isin": "not_in_code_list", "in_range": "out_of_range"}


class HarmonisedResponses(pa.DataFrameModel):
    """One row per respondent of one delivery, after harmonisation of v1/v2 codes and labels."""

    row_number: Index[int] = pa.Field(ge=1, description="row of the delivery as a spreadsheet shows it")
    respondent_key: Series[str] = pa.Field(unique=True, description="salted SHA-256 of ResponseId")
    consent: Series[str] = pa.Field(isin=["yes"], description="respondents consented by definition")
    gender: Series[str] = pa.Field(
        isin=["female", "male", "nonbinary_or_other", "not_reported"], nullable=True, description="gender"
    )
    age: Series[pa.Int64] = pa.Field(
        in_range={"min_value": AGE_RANGE[0], "max_value": AGE_RANGE[1]},
        nullable=True,
        description="age in years",
    )
    specialty: Series[pa.Int64] = pa.Field(isin=SPECIALTY_CODES, nullable=True, description="§2.1 code")
    mentor_formal: Series[str] = pa.Field(isin=YES_NO, nullable=True, description="formal SSM mentor")
    mentor_informal: Series[str] = pa.Field(isin=YES_NO, nullable=True, description="informal SSM")
    had_student_mentor: Series[str] = pa.Field(
        isin=["yes", "no", "not_sure"], nullable=True, description="had a student mentor as a junior"
    )
    value_distinct: Series[pa.Int64] = pa.Field(isin=LIKERT5, nullable=True, description="likert5")
    value_mentee: Series[pa.Int64] = pa.Field(isin=LIKERT5, nullable=True, description="likert5")
    value_mentor: Series[pa.Int64] = pa.Field(isin=LIKERT5, nullable=True, description="likert5")
    mentor_again: Series[str] = pa.Field(isin=["yes", "no", "unsure"], nullable=True, description="mentors")
    mentor_worthwhile: Series[pa.Int64] = pa.Field(isin=LIKERT5, nullable=True, description="likert5")
    mentees_count: Series[pa.Int64] = pa.Field(
        in_range={"min_value": MENTEES_RANGE[0], "max_value": MENTEES_RANGE[1]},
        nullable=True,
        description="mentees of a mentor",
    )

    class Config:
        coerce = True
        # The frame also carries free text and reason flags; they are checked in harmonise.py.
        strict = False
