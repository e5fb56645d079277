"""Deterministic demonstration data for the SSM survey pipeline (spec §3, §4, §10, §11).

``write_demo_data`` writes one Qualtrics-style delivery per survey year into ``<data_dir>/landing`` and
the matching class sizes into ``<data_dir>/reference/class_sizes.csv``:

* years up to 2019 use the v1 export (legacy CSV, numeric codes, two header rows, UTF-8 with BOM, CRLF);
* years 2020-2025 use the v2 export (current CSV, choice text, three header rows, UTF-8, LF);
* years from 2026 use the v3 export (spec §3, rev 2): the v2 layout with the column mentor_prepared
  after mentor_worthwhile, the new wording of value_mentor in SSM_value_3's second header row, and the
  7th reason for not taking part.

Which export a year gets is the codebook's answer (``schemas/codebook.yaml``, instruments and their
years); what v3 adds (its new column, the reworded question, the reasons it offers and their labels)
is read from the codebook and the v3 mapping, not written out again here.

Survey year 2018 is the reference year of §10: its counts are fixed by construction (only who gets
which answer is shuffled), so every figure of the §10 table holds for any seed. All other years are
drawn from ``random.Random(seed + year)`` and contain the messiness a real delivery has: previews,
unfinished responses, refusals, a resubmitted ResponseId, fake identifying columns that the pipeline
must drop, comments with e-mail addresses and phone numbers to mask, and, in the years listed in
``BAD_CELLS_BY_YEAR``, a few cells a validator must flag without dropping the row.

The same arguments always produce byte-identical files.
"""

from __future__ import annotations

import csv
import json
import random
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from schemas.codebook import codebook
from schemas.instruments import Instrument, instruments

T = TypeVar("T")

REFERENCE_YEAR = 2018
REFERENCE_CLASS_SIZE = 178

# --------------------------------------------------------------------------------------------------
# The instrument (spec §2)
# --------------------------------------------------------------------------------------------------

SPECIALTIES: dict[int, tuple[str, str]] = {
    1: ("Anesthesiology", "other"),
    2: ("Dermatology", "other"),
    3: ("Emergency Medicine", "other"),
    4: ("Family Medicine", "primary_care"),
    5: ("Internal Medicine", "primary_care"),
    6: ("Neurology", "other"),
    7: ("Obstetrics and Gynecology", "surgical"),
    8: ("Orthopaedic Surgery", "surgical"),
    9: ("Pathology", "other"),
    10: ("Pediatrics", "primary_care"),
    11: ("Psychiatry", "other"),
    12: ("Radiology", "other"),
    13: ("General Surgery", "surgical"),
    14: ("Surgical subspecialty (e.g., ENT, Urology, Neurosurgery)", "surgical"),
    15: ("Internal Medicine/Pediatrics", "primary_care"),
    16: ("Did not match / not applicable", "not_matched"),
    17: ("Other (please specify)", "other"),
}
OTHER_SPECIALTY = 17


def _instrument(name: str) -> Instrument:
    return next(instrument for instrument in instruments() if instrument.name == name)


def _offered_reasons(instrument: str) -> dict[int, str]:
    """The reasons of §2.2 that an instrument offered (code -> label), from the codebook."""
    book = codebook()
    offered = book.offered(instrument, "nonpart_reasons")
    return {int(a.value): a.label for a in book.value_sets["reasons"] if a.value in offered}


# §2.2 per instrument: 1-6 up to 2025 (v1, v2); v3 adds 7 (the codebook's instruments.v3 offers all).
REASONS_OFFERED: dict[str, dict[int, str]] = {i.name: _offered_reasons(i.name) for i in instruments()}
REASONS: dict[int, str] = REASONS_OFFERED["v2"]
OTHER_REASON = 6

Q_CONSENT = "I have read the information above and agree to take part."
Q_GENDER = "Gender"
Q_AGE = "Age in years"
Q_SPECIALTY = "Specialty you matched into"
Q_MENTOR_FORMAL = "Did you serve as a mentor in the formal student/student mentoring program?"
Q_MENTOR_INFORMAL = (
    "Did you take part in informal student/student mentoring outside the formal program "
    "(as mentor or mentee)?"
)
Q_HAD_MENTOR = "As a junior student, did you have a student mentor?"
Q_VALUE_INTRO = "Please rate your agreement with each statement."
VALUE_STATEMENTS = (
    "SSM is valuable in a way that is different from student/resident or student/faculty mentoring.",
    "Being the mentee in an SSM relationship is (or would be) beneficial.",
    "Being a mentor in an SSM program is (or would be) valuable.",
)
Q_MENTOR_AGAIN = "Would you serve as a mentor again?"
Q_WORTHWHILE = "Serving as a mentor was a worthwhile experience."
Q_MENTEES = "How many mentees did you have?"
Q_REASONS = "Why did you not take part as a mentor? (select all that apply)"
Q_COMMENTS = "Any other comments?"

# --------------------------------------------------------------------------------------------------
# Export formats (spec §3): columns, header rows and how each canonical answer is written
# --------------------------------------------------------------------------------------------------

V1_METADATA = [
    ("V1", "ResponseID"),
    ("V2", "ResponseSet"),
    ("V3", "Name"),
    ("V4", "ExternalDataReference"),
    ("V5", "EmailAddress"),
    ("V6", "IPAddress"),
    ("V7", "Status"),
    ("V8", "StartDate"),
    ("V9", "EndDate"),
    ("V10", "Finished"),
]
V1_QUESTIONS = [
    ("Q1", Q_CONSENT),
    ("Q2", Q_GENDER),
    ("Q3", Q_AGE),
    ("Q4", Q_SPECIALTY),
    ("Q4_17_TEXT", f"{Q_SPECIALTY}-Other (please specify)-TEXT"),
    ("Q5", Q_MENTOR_FORMAL),
    ("Q6", Q_MENTOR_INFORMAL),
    ("Q7", Q_HAD_MENTOR),
    *[(f"Q8_{i}", f"{Q_VALUE_INTRO}-{text}") for i, text in enumerate(VALUE_STATEMENTS, start=1)],
    ("Q9", Q_MENTOR_AGAIN),
    ("Q10", Q_WORTHWHILE),
    ("Q11", Q_MENTEES),
    *[(f"Q12_{code}", f"{Q_REASONS}-{label}") for code, label in REASONS_OFFERED["v1"].items()],
    ("Q12_6_TEXT", f"{Q_REASONS}-Other (please specify)-TEXT"),
    ("Q13", Q_COMMENTS),
    ("LocationLatitude", "LocationLatitude"),
    ("LocationLongitude", "LocationLongitude"),
    ("LocationAccuracy", "LocationAccuracy"),
]
V1_HEADER = V1_METADATA + V1_QUESTIONS

# (export tag, question text, ImportId) for the three v2 header rows.
V2_METADATA = [
    ("StartDate", "Start Date", "startDate"),
    ("EndDate", "End Date", "endDate"),
    ("Status", "Response Type", "status"),
    ("IPAddress", "IP Address", "ipAddress"),
    ("Progress", "Progress", "progress"),
    ("Duration (in seconds)", "Duration (in seconds)", "duration"),
    ("Finished", "Finished", "finished"),
    ("RecordedDate", "Recorded Date", "recordedDate"),
    ("ResponseId", "Response ID", "_recordId"),
    ("RecipientLastName", "Recipient Last Name", "recipientLastName"),
    ("RecipientFirstName", "Recipient First Name", "recipientFirstName"),
    ("RecipientEmail", "Recipient Email", "recipientEmail"),
    ("ExternalReference", "External Data Reference", "externalDataReference"),
    ("LocationLatitude", "Location Latitude", "locationLatitude"),
    ("LocationLongitude", "Location Longitude", "locationLongitude"),
    ("DistributionChannel", "Distribution Channel", "distributionChannel"),
    ("UserLanguage", "User Language", "userLanguage"),
]
V2_QUESTIONS = [
    ("consent", Q_CONSENT, "QID1"),
    ("gender", f"{Q_GENDER} - Selected Choice", "QID2"),
    ("gender_4_TEXT", f"{Q_GENDER} - Prefer to self-describe - Text", "QID2_4_TEXT"),
    ("age", Q_AGE, "QID3_TEXT"),
    ("specialty", f"{Q_SPECIALTY} - Selected Choice", "QID4"),
    ("specialty_17_TEXT", f"{Q_SPECIALTY} - Other (please specify) - Text", "QID4_17_TEXT"),
    ("mentor_formal", Q_MENTOR_FORMAL, "QID5"),
    ("mentor_informal", Q_MENTOR_INFORMAL, "QID6"),
    ("had_student_mentor", Q_HAD_MENTOR, "QID7"),
    *[
        (f"SSM_value_{i}", f"{Q_VALUE_INTRO} - {text}", f"QID8_{i}")
        for i, text in enumerate(VALUE_STATEMENTS, start=1)
    ],
    ("mentor_again", Q_MENTOR_AGAIN, "QID9"),
    ("mentor_worthwhile", Q_WORTHWHILE, "QID10"),
    ("mentees_count", Q_MENTEES, "QID11_TEXT"),
    ("nonpart_reasons", f"{Q_REASONS} - Selected Choice", "QID12"),
    ("nonpart_reasons_6_TEXT", f"{Q_REASONS} - Other (please specify) - Text", "QID12_6_TEXT"),
    ("comments", Q_COMMENTS, "QID13_TEXT"),
]
V2_HEADER = V2_METADATA + V2_QUESTIONS


def _v3_questions() -> list[tuple[str, str, str]]:
    """v2's question columns as v3 exports them (spec §3, rev 2): SSM_value_3 asks value_mentor in its
    new words, and the new column mentor_prepared stands right after mentor_worthwhile. The words are
    the codebook's and the column names the v3 mapping's."""
    book, v3 = codebook(), _instrument("v3")
    first_year = book.instruments["v3"].first_year
    assert first_year is not None
    reworded = f"{Q_VALUE_INTRO} - {book.variables['value_mentor'].wording_in(first_year).question}"
    prepared = (
        v3.variables["mentor_prepared"].column,
        book.variables["mentor_prepared"].wording_in(first_year).question,
        "QID14",  # the next question id after v2's QID13
    )
    questions = []
    for tag, text, import_id in V2_QUESTIONS:
        questions.append((tag, reworded if tag == v3.variables["value_mentor"].column else text, import_id))
        if tag == v3.variables["mentor_worthwhile"].column:
            questions.append(prepared)
    return questions


V3_QUESTIONS = _v3_questions()
V3_HEADER = V2_METADATA + V3_QUESTIONS

V1_YES_NO = {"yes": "1", "no": "2"}
V1_GENDER = {"male": "1", "female": "2", "prefer_not": "3"}
V1_HAD_MENTOR = {"yes": "1", "no": "2", "not_sure": "3"}
V1_MENTOR_AGAIN = {"yes": "1", "no": "2", "unsure": "3"}

V2_YES_NO = {"yes": "Yes", "no": "No"}
V2_GENDER = {
    "female": "Woman",
    "male": "Man",
    "nonbinary": "Non-binary",
    "self_describe": "Prefer to self-describe",
    "prefer_not": "Prefer not to answer",
}
V2_HAD_MENTOR = {"yes": "Yes", "no": "No", "not_sure": "Not sure"}
V2_MENTOR_AGAIN = {"yes": "Yes", "no": "No", "unsure": "Unsure"}
V2_LIKERT = {
    1: "Strongly disagree",
    2: "Somewhat disagree",
    3: "Neither agree nor disagree",
    4: "Somewhat agree",
    5: "Strongly agree",
}

# Where a deliberately bad cell goes, per format (keys are canonical variable names).
V1_COLUMN_OF = {
    "age": "Q3",
    "specialty": "Q4",
    "mentor_again": "Q9",
    "mentor_worthwhile": "Q10",
    "mentees_count": "Q11",
}
V2_COLUMN_OF = {name: name for name in V1_COLUMN_OF}
V3_COLUMN_OF = {**V2_COLUMN_OF, "mentor_prepared": _instrument("v3").variables["mentor_prepared"].column}


@dataclass(frozen=True)
class BadCell:
    """A cell written as-is that a validator must flag (spec §5) while keeping its row.

    ``raw_value`` is spelled in the format of the year's delivery; ``carrier`` says which respondents
    may carry it ("any", "non_mentor" for an answer to a mentor-only question, or "mentor" for a bad
    answer to a mentor-only question).
    """

    variable: str
    raw_value: str
    carrier: str = "any"


# Never in the reference year: §10 must come out exactly, with no data-quality issues.
BAD_CELLS_BY_YEAR: dict[int, tuple[BadCell, ...]] = {
    2017: (
        BadCell("age", "twenty six"),
        BadCell("specialty", "99"),
        BadCell("mentor_again", "1", carrier="non_mentor"),
    ),
    2019: (BadCell("age", "7"),),
    2021: (
        BadCell("age", "twenty six"),
        BadCell("mentees_count", "3", carrier="non_mentor"),
    ),
    2023: (
        BadCell("age", "7"),
        BadCell("specialty", "Cardiology"),  # a label that is not in the list of §2.1
        BadCell("mentor_worthwhile", "Strongly agree", carrier="non_mentor"),
    ),
    # The first v3 year. Its own new item gets a bad label from a mentor (the report's word "Agree",
    # not the export's "Somewhat agree"); the answer off the mentor branch stays on mentor_again, so
    # that mentor_prepared is answered by mentors only.
    2026: (
        BadCell("age", "twenty six"),
        BadCell("specialty", "Cardiology"),
        BadCell("mentor_again", "Yes", carrier="non_mentor"),
        BadCell("mentor_prepared", "Agree", carrier="mentor"),
    ),
}

# --------------------------------------------------------------------------------------------------
# One response: what was answered, and the Qualtrics bookkeeping around it
# --------------------------------------------------------------------------------------------------


@dataclass
class Answers:
    """Canonical answers of one response; ``None`` means the question was not answered or not shown.

    Fields are in questionnaire order, which is what an unfinished response is truncated along.
    """

    consent: str | None = None
    gender: str | None = None  # a key of V2_GENDER (v1 years only use female, male, prefer_not)
    gender_text: str | None = None
    age: str | None = None
    specialty: int | None = None
    specialty_text: str | None = None
    mentor_formal: str | None = None
    mentor_informal: str | None = None
    had_student_mentor: str | None = None
    value_distinct: int | None = None
    value_mentee: int | None = None
    value_mentor: int | None = None
    mentor_again: str | None = None
    mentor_worthwhile: int | None = None
    mentor_prepared: int | None = None  # asked from 2026 (v3)
    mentees_count: str | None = None
    reasons: tuple[int, ...] | None = None
    reasons_text: str | None = None
    comments: str | None = None


ANSWER_ORDER = [f.name for f in fields(Answers)]


def _answer_order(instrument: Instrument) -> list[str]:
    """The answers an instrument asks for, in questionnaire order (what an unfinished response is
    truncated along): a field named after a codebook variable only where the instrument maps it."""
    variables = codebook().variables
    return [name for name in ANSWER_ORDER if name not in variables or name in instrument.variables]


@dataclass(frozen=True)
class Person:
    """Clearly fake identifying details; they exist only so the pipeline can prove it drops them."""

    first_name: str
    last_name: str
    email: str
    ip_address: str
    external_reference: str
    latitude: str
    longitude: str


@dataclass
class Response:
    """One raw row of a delivery."""

    response_id: str
    person: Person
    started: datetime
    ended: datetime
    recorded: datetime
    answers: Answers
    preview: bool = False
    finished: bool = True
    progress: int = 100
    bad_cells: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NonRespondentCounts:
    """How many rows of each excluded kind a year's delivery gets (spec §5 buckets 1-4)."""

    previews: int
    incomplete: int
    no_consent: int
    duplicates: int

    @property
    def total(self) -> int:
        return self.previews + self.incomplete + self.no_consent + self.duplicates


REFERENCE_NON_RESPONDENTS = NonRespondentCounts(previews=3, incomplete=4, no_consent=1, duplicates=1)
# Years that get a resubmitted ResponseId whatever their draw says: 2026, the first v3 year and the
# newest demo year (whose report the demo e-mails), shows every bucket of §5 but `rejected`.
DUPLICATE_YEARS = frozenset({2026})

# --------------------------------------------------------------------------------------------------
# The reference year (spec §10): exact counts per cohort
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortPlan:
    """Exact answer counts for one cohort of the reference year.

    Each attribute is a multiset that is shuffled independently, so the marginal counts are exact
    whatever the seed, while the combinations differ.
    """

    size: int
    gender: dict[str, int]
    specialty: dict[int, int]
    ages: dict[int, int]
    agree: dict[str, int]  # value item -> how many agree (4 or 5)
    informal_yes: int
    reason_sets: dict[tuple[int, ...], int] = field(default_factory=dict)
    mentor_again: dict[str, int] = field(default_factory=dict)
    worthwhile_agree: int = 0


REFERENCE_PLANS: dict[str, CohortPlan] = {
    "mentor": CohortPlan(
        size=42,
        gender={"female": 24, "male": 18},
        # primary care 16 (4, 5, 10, 15), surgical 12 (7, 8, 13, 14), other 13, not matched 1 (16)
        specialty={
            1: 2,
            2: 1,
            3: 3,
            4: 4,
            5: 6,
            6: 1,
            7: 3,
            8: 3,
            9: 1,
            10: 4,
            11: 2,
            12: 2,
            13: 3,
            14: 3,
            15: 2,
            16: 1,
            17: 1,
        },
        # Same shape as the non-mentors' ages, so Welch's t-test finds nothing (p ~ 0.97).
        ages={24: 1, 25: 6, 26: 10, 27: 10, 28: 6, 29: 4, 30: 2, 31: 1, 33: 1, 36: 1},
        agree={"value_distinct": 41, "value_mentee": 36, "value_mentor": 34},
        informal_yes=8,  # mentors who also mentored informally are still mentors (§7)
        mentor_again={"yes": 35, "no": 4, "unsure": 3},
        worthwhile_agree=31,
    ),
    "non_mentor": CohortPlan(
        size=48,
        gender={"female": 26, "male": 22},
        # primary care 18, surgical 14, other 15, not matched 1
        specialty={
            1: 2,
            2: 1,
            3: 3,
            4: 5,
            5: 7,
            6: 2,
            7: 4,
            8: 3,
            9: 1,
            10: 4,
            11: 2,
            12: 3,
            13: 4,
            14: 3,
            15: 2,
            16: 1,
            17: 1,
        },
        ages={24: 1, 25: 7, 26: 12, 27: 11, 28: 7, 29: 5, 30: 2, 32: 1, 34: 1, 38: 1},
        agree={"value_distinct": 45, "value_mentee": 22, "value_mentor": 25},
        informal_yes=0,
        # 48 people ticking reasons 1..6 = 30, 9, 12, 5, 4, 3 times; everybody ticks at least one.
        reason_sets={
            (1,): 18,
            (1, 2): 4,
            (1, 3): 5,
            (1, 4): 2,
            (1, 6): 1,
            (2,): 4,
            (2, 3): 1,
            (3,): 5,
            (3, 4): 1,
            (4,): 2,
            (5,): 3,
            (5, 6): 1,
            (6,): 1,
        },
    ),
    "informal": CohortPlan(
        size=17,
        gender={"female": 9, "male": 7, "prefer_not": 1},
        specialty={1: 1, 3: 2, 4: 2, 5: 2, 7: 2, 8: 1, 10: 2, 11: 1, 12: 1, 13: 2, 16: 1},
        ages={25: 3, 26: 5, 27: 4, 28: 2, 29: 1, 31: 1, 35: 1},
        agree={"value_distinct": 16, "value_mentee": 11, "value_mentor": 10},
        informal_yes=17,
        # The reasons question is shown to everybody with mentor_formal = no, informal mentors
        # included; §10 counts non-mentors only, so these ticks must not leak into that figure.
        reason_sets={(1,): 6, (1, 2): 1, (2,): 2, (3,): 1, (1, 3): 1, (5,): 1, (): 5},
    ),
}

# --------------------------------------------------------------------------------------------------
# Other years: answer probabilities near the reference year
# --------------------------------------------------------------------------------------------------

COHORT_SHARES = {"mentor": 0.39, "non_mentor": 0.45, "informal": 0.16}
UNCLASSIFIED_SHARE = 0.003  # about one respondent every three years skips mentor_formal
ITEM_SKIP_CHANCE = 0.02

AGREE_PROBABILITY = {
    "value_distinct": {"mentor": 0.97, "non_mentor": 0.93, "informal": 0.94},
    "value_mentee": {"mentor": 0.86, "non_mentor": 0.46, "informal": 0.65},
    "value_mentor": {"mentor": 0.81, "non_mentor": 0.52, "informal": 0.60},
}
# Non-mentors warm slowly to being a mentee, so the trend tests have something to find.
VALUE_MENTEE_NON_MENTOR_DRIFT_PER_YEAR = 0.015
WORTHWHILE_AGREE = 0.74
PREPARED_AGREE = 0.70  # mentor_prepared (v3): most mentors found the orientation useful
MENTOR_AGAIN_WEIGHTS = {"yes": 0.83, "no": 0.08, "unsure": 0.09}
REASON_PROBABILITY = {1: 0.62, 2: 0.19, 3: 0.25, 4: 0.10, 5: 0.08, 6: 0.06}
# A reason an instrument offers that REASON_PROBABILITY does not list (v3's 7, meeting times).
NEW_REASON_PROBABILITY = 0.14
SPECIALTY_WEIGHTS = {
    1: 5,
    2: 2,
    3: 7,
    4: 8,
    5: 14,
    6: 3,
    7: 6,
    8: 5,
    9: 2,
    10: 10,
    11: 5,
    12: 4,
    13: 6,
    14: 5,
    15: 3,
    16: 2,
    17: 3,
}
AGE_WEIGHTS = {
    24: 2,
    25: 12,
    26: 22,
    27: 20,
    28: 13,
    29: 8,
    30: 6,
    31: 4,
    32: 3,
    33: 2,
    34: 2,
    35: 1,
    36: 1,
    38: 1,
    40: 1,
}
V1_GENDER_WEIGHTS = {"female": 0.52, "male": 0.45, "prefer_not": 0.03}
V2_GENDER_WEIGHTS = {
    "female": 0.51,
    "male": 0.42,
    "nonbinary": 0.02,
    "self_describe": 0.01,
    "prefer_not": 0.04,
}
HAD_MENTOR_WEIGHTS = {"yes": 0.55, "no": 0.35, "not_sure": 0.10}
MENTEES_WEIGHTS = {"1": 35, "2": 40, "3": 17, "4": 6, "5": 2}

# --------------------------------------------------------------------------------------------------
# Fake identities and free text
# --------------------------------------------------------------------------------------------------

FIRST_NAMES = [
    "Alex",
    "Amara",
    "Ben",
    "Carmen",
    "Chloe",
    "Daniel",
    "Elena",
    "Farah",
    "Gabriel",
    "Hana",
    "Isaac",
    "Jamal",
    "Julia",
    "Kenji",
    "Laura",
    "Leah",
    "Marco",
    "Maya",
    "Nadia",
    "Noah",
    "Olivia",
    "Omar",
    "Priya",
    "Rafael",
    "Rosa",
    "Samuel",
    "Sofia",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Johnson",
    "Kim",
    "Lopez",
    "Miller",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Singh",
    "Tanaka",
    "Usman",
    "Vargas",
    "Walsh",
    "Xu",
    "Young",
    "Zimmerman",
]
CAMPUS_LATITUDE, CAMPUS_LONGITUDE = 41.5045, -81.6086

OTHER_SPECIALTY_TEXTS = [
    "Physical Medicine and Rehabilitation",
    "Radiation Oncology",
    "Preventive Medicine",
    "Nuclear Medicine",
    "Medical Genetics",
]
OTHER_REASON_TEXTS = [
    "Away rotations all spring, so I could not commit",
    "Research year off campus",
    "Was already tutoring, and that filled my week",
]
SELF_DESCRIBED_GENDERS = ["Genderqueer", "Agender"]
PLAIN_COMMENTS = [
    "My mentor made the first year much less overwhelming.",
    "Great program, but matching happened too late in the fall.",
    "More structure for the first meeting would help.",
    "I would have joined if I had known about it earlier.",
    "Mentoring taught me as much as it taught my mentee.",
    "Please keep this program, it matters to the preclinical students.",
    "The time commitment was reasonable, about an hour a month.",
    "Pair mentors and mentees by interests, not by alphabet.",
]
MULTILINE_COMMENT = (
    "Two suggestions:\n1. Match mentors and mentees before orientation, not after.\n"
    "2. Give mentors a short guide, even one page."
)


def _email_comment(person: Person) -> str:
    return f"Happy to help recruit mentors next year, write to me at {person.email}."


def _phone_comment(rng: random.Random) -> str:
    # 555-01xx numbers are reserved for fiction.
    return f"Call me at (216) 555-01{rng.randint(0, 99):02d} if you want to hear more, anytime."


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------


def write_demo_data(data_dir: Path, years: Iterable[int] = range(2016, 2027), seed: int = 2019) -> list[Path]:
    """Write demo deliveries to data_dir/landing and class sizes to data_dir/reference/class_sizes.csv;
    return the delivery paths.

    One file ``landing/ssm_survey_<YYYY>.csv`` per year (v1 format up to 2019, v2 2020-2025, v3 from
    2026: the codebook's instrument of the year); the
    class sizes file lists every generated year and is rewritten as a whole. Year 2018 reproduces the
    reference figures of spec §10. Each year draws from its own ``random.Random(seed + year)``, so a
    year's file does not depend on which other years are generated, and reruns are byte-identical.
    """
    data_dir = Path(data_dir)
    landing = data_dir / "landing"
    reference = data_dir / "reference"
    landing.mkdir(parents=True, exist_ok=True)
    reference.mkdir(parents=True, exist_ok=True)

    class_sizes: dict[int, int] = {}
    deliveries: list[Path] = []
    for year in sorted(set(years)):
        # Reproducible fake data, not secrets: a seeded, non-cryptographic generator is the point.
        rng = random.Random(seed + year)  # noqa: S311
        class_sizes[year] = _class_size(year, rng)
        path = landing / f"ssm_survey_{year}.csv"
        _write_delivery(path, year, _build_year(year, rng))
        deliveries.append(path)
    _write_class_sizes(reference / "class_sizes.csv", class_sizes)
    return deliveries


def _class_size(year: int, rng: random.Random) -> int:
    return REFERENCE_CLASS_SIZE if year == REFERENCE_YEAR else rng.randint(160, 190)


def _instrument_of_year(year: int) -> Instrument:
    """The instrument the school used in a survey year, as the codebook says."""
    entry = codebook().instrument_of_year(year)
    if entry is None:
        raise ValueError(f"the codebook names no instrument for survey year {year}")
    return _instrument(entry.name)


def _is_v1(year: int) -> bool:
    return _instrument_of_year(year).name == "v1"


# --------------------------------------------------------------------------------------------------
# Building a year's rows
# --------------------------------------------------------------------------------------------------


class _ResponseFactory:
    """Hands out unique ResponseIds, fake people and spring timestamps for one survey year."""

    def __init__(self, rng: random.Random, year: int) -> None:
        self.rng = rng
        self.year = year
        self._ids: set[str] = set()
        self._emails: set[str] = set()
        # Invitations go out early March; the survey closes mid-May, so even a resubmission dated
        # days before its original and an unfinished response recorded a week later stay in spring.
        self._window_start = datetime(year, 3, 6, 7, 0, 0)
        self._window_seconds = int((datetime(year, 5, 15, 22, 0, 0) - self._window_start).total_seconds())

    def response(self, answers: Answers, *, finished: bool = True) -> Response:
        started = self._window_start + timedelta(seconds=self.rng.randint(0, self._window_seconds))
        ended = started + timedelta(seconds=self._duration_seconds(finished))
        # Qualtrics records an abandoned response when it closes it, a week after the last activity.
        recorded = ended if finished else ended + timedelta(days=7)
        return Response(
            response_id=self._response_id(),
            person=self._person(),
            started=started,
            ended=ended,
            recorded=recorded,
            answers=answers,
            finished=finished,
        )

    def _duration_seconds(self, finished: bool) -> int:
        if not finished:
            return self.rng.randint(30, 400)
        if self.rng.random() < 0.07:  # left the tab open
            return self.rng.randint(1200, 4 * 3600)
        return self.rng.randint(150, 1200)

    def _response_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        while True:
            candidate = "R_" + "".join(self.rng.choice(alphabet) for _ in range(15))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def _person(self) -> Person:
        first = self.rng.choice(FIRST_NAMES)
        last = self.rng.choice(LAST_NAMES)
        email = f"{first}.{last}@example.edu".lower()
        suffix = 2
        while email in self._emails:
            email = f"{first}.{last}{suffix}@example.edu".lower()
            suffix += 1
        self._emails.add(email)
        return Person(
            first_name=first,
            last_name=last,
            email=email,
            ip_address=f"10.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}",
            external_reference=f"SID{self.rng.randint(100000, 999999)}",
            latitude=f"{CAMPUS_LATITUDE + self.rng.uniform(-0.3, 0.3):.4f}",
            longitude=f"{CAMPUS_LONGITUDE + self.rng.uniform(-0.3, 0.3):.4f}",
        )


def _build_year(year: int, rng: random.Random) -> list[Response]:
    """All raw rows of one delivery, in a deterministic shuffled order."""
    factory = _ResponseFactory(rng, year)
    if year == REFERENCE_YEAR:
        counts = REFERENCE_NON_RESPONDENTS
        answers = _reference_respondent_answers(rng)
    else:
        counts = _draw_non_respondent_counts(rng)
        if year in DUPLICATE_YEARS and not counts.duplicates:
            counts = replace(counts, duplicates=1)
        n_respondents = rng.randint(100, 130) - counts.total
        answers = [_random_answers(rng, year) for _ in range(n_respondents)]

    respondents = [factory.response(a) for a in answers]
    _assign_comments(respondents, rng)
    if year != REFERENCE_YEAR:
        _apply_bad_cells(respondents, BAD_CELLS_BY_YEAR.get(year, ()), rng)

    rows = respondents + _earlier_copies(respondents, counts.duplicates, rng)
    rows += [_preview(factory, year) for _ in range(counts.previews)]
    rows += [_unfinished(factory, year) for _ in range(counts.incomplete)]
    rows += [factory.response(Answers(consent="no")) for _ in range(counts.no_consent)]
    rng.shuffle(rows)
    return rows


def _draw_non_respondent_counts(rng: random.Random) -> NonRespondentCounts:
    return NonRespondentCounts(
        previews=rng.randint(2, 4),
        incomplete=rng.randint(3, 7),
        no_consent=rng.randint(1, 2),
        duplicates=1 if rng.random() < 0.5 else 0,
    )


def _preview(factory: _ResponseFactory, year: int) -> Response:
    response = factory.response(_random_answers(factory.rng, year))
    response.preview = True
    return response


def _unfinished(factory: _ResponseFactory, year: int) -> Response:
    """A consented response abandoned part-way: answers stop at a random question."""
    rng = factory.rng
    answers_kept = rng.randint(2, 10)
    answers = _random_answers(rng, year)
    order = _answer_order(_instrument_of_year(year))
    abandoned = replace(answers, **{name: None for name in order[answers_kept:]})
    response = factory.response(abandoned, finished=False)
    response.progress = max(5, min(95, round(100 * answers_kept / len(order))))
    return response


def _earlier_copies(respondents: list[Response], how_many: int, rng: random.Random) -> list[Response]:
    """Earlier submissions by the same people (same ResponseId), which §5 counts as duplicates.

    The copy disagrees with the kept answer on value_mentee, so a pipeline that keeps the wrong copy
    gets different figures.
    """
    clean = [r for r in respondents if not r.bad_cells]
    copies = []
    for kept in rng.sample(clean, how_many):
        started = kept.started - timedelta(hours=rng.randint(3, 96))
        ended = started + timedelta(seconds=rng.randint(150, 900))
        first_try = replace(
            kept.answers, value_mentee=3 if _agrees(kept.answers.value_mentee) else 4, comments=None
        )
        copies.append(
            replace(kept, started=started, ended=ended, recorded=ended, answers=first_try, bad_cells={})
        )
    return copies


def _agrees(value: int | None) -> bool:
    return value is not None and value >= 4


def _expand(counts: dict[T, int]) -> list[T]:
    """A multiset as a list, in the dict's (fixed) order."""
    return [item for item, n in counts.items() for _ in range(n)]


def _shuffled(items: list[T], rng: random.Random) -> list[T]:
    items = list(items)
    rng.shuffle(items)
    return items


def _likert_values(n_agree: int, n_total: int) -> list[int]:
    """A fixed spread of likert answers with exactly n_agree answers of 4 or 5."""
    strongly_agree = round(0.45 * n_agree)
    n_other = n_total - n_agree
    strongly_disagree = n_other // 6
    disagree = (n_other - strongly_disagree) // 2
    neither = n_other - strongly_disagree - disagree
    return (
        [5] * strongly_agree
        + [4] * (n_agree - strongly_agree)
        + [3] * neither
        + [2] * disagree
        + [1] * strongly_disagree
    )


def _reference_respondent_answers(rng: random.Random) -> list[Answers]:
    """The 107 respondents of §10, cohort by cohort."""
    answers: list[Answers] = []
    for cohort, plan in REFERENCE_PLANS.items():
        answers += _reference_cohort(cohort, plan, rng)
    return answers


def _reference_cohort(cohort: str, plan: CohortPlan, rng: random.Random) -> list[Answers]:
    def column(values: list[T]) -> list[T]:
        if len(values) != plan.size:
            raise ValueError(f"reference plan for {cohort}: {len(values)} values for {plan.size} people")
        return _shuffled(values, rng)

    genders = column(_expand(plan.gender))
    specialties = column(_expand(plan.specialty))
    ages = column(_expand(plan.ages))
    informal = column(["yes"] * plan.informal_yes + ["no"] * (plan.size - plan.informal_yes))
    values = {item: column(_likert_values(n, plan.size)) for item, n in plan.agree.items()}
    is_mentor = cohort == "mentor"
    reasons = column(_expand(plan.reason_sets)) if not is_mentor else [None] * plan.size
    again = column(_expand(plan.mentor_again)) if is_mentor else [None] * plan.size
    worthwhile = column(_likert_values(plan.worthwhile_agree, plan.size)) if is_mentor else [None] * plan.size

    people = []
    for i in range(plan.size):
        person = Answers(
            consent="yes",
            gender=genders[i],
            age=str(ages[i]),
            specialty=specialties[i],
            mentor_formal="yes" if is_mentor else "no",
            mentor_informal=informal[i],
            had_student_mentor=_weighted(rng, HAD_MENTOR_WEIGHTS),
            value_distinct=values["value_distinct"][i],
            value_mentee=values["value_mentee"][i],
            value_mentor=values["value_mentor"][i],
            mentor_again=again[i],
            mentor_worthwhile=worthwhile[i],
            mentees_count=_weighted(rng, MENTEES_WEIGHTS) if is_mentor else None,
            reasons=reasons[i] or None,
        )
        _fill_other_texts(person, rng)
        people.append(person)
    return people


def _fill_other_texts(answers: Answers, rng: random.Random) -> None:
    """The "please specify" boxes, filled only where their choice was picked."""
    if answers.specialty == OTHER_SPECIALTY:
        answers.specialty_text = rng.choice(OTHER_SPECIALTY_TEXTS)
    if answers.reasons and OTHER_REASON in answers.reasons:
        answers.reasons_text = rng.choice(OTHER_REASON_TEXTS)
    if answers.gender == "self_describe":
        answers.gender_text = rng.choice(SELF_DESCRIBED_GENDERS)


def _weighted(rng: random.Random, weights: dict[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _draw_cohort(rng: random.Random) -> str:
    if rng.random() < UNCLASSIFIED_SHARE:
        return "unclassified"
    return _weighted(rng, COHORT_SHARES)


def _agree_probability(item: str, cohort: str, year: int) -> float:
    probability = AGREE_PROBABILITY[item]["informal" if cohort == "unclassified" else cohort]
    if item == "value_mentee" and cohort == "non_mentor":
        probability += VALUE_MENTEE_NON_MENTOR_DRIFT_PER_YEAR * (year - REFERENCE_YEAR)
    return min(probability, 0.99)


def _likert(rng: random.Random, agree_probability: float) -> int:
    if rng.random() < agree_probability:
        return _weighted(rng, {4: 0.55, 5: 0.45})
    return _weighted(rng, {1: 0.1, 2: 0.3, 3: 0.6})


def _maybe_skipped(rng: random.Random, value: T) -> T | None:
    return None if rng.random() < ITEM_SKIP_CHANCE else value


def _random_answers(rng: random.Random, year: int) -> Answers:
    """A plausible consented response for a non-reference year (also previews and unfinished rows)."""
    instrument = _instrument_of_year(year)
    cohort = _draw_cohort(rng)
    gender_weights = V1_GENDER_WEIGHTS if _is_v1(year) else V2_GENDER_WEIGHTS
    answers = Answers(
        consent="yes",
        gender=_weighted(rng, gender_weights),
        age=_maybe_skipped(rng, str(_weighted(rng, AGE_WEIGHTS))),
        specialty=_weighted(rng, SPECIALTY_WEIGHTS),
        mentor_formal={"mentor": "yes", "unclassified": None}.get(cohort, "no"),
        mentor_informal=_informal_answer(rng, cohort),
        had_student_mentor=_weighted(rng, HAD_MENTOR_WEIGHTS),
    )
    for item in AGREE_PROBABILITY:
        value = _likert(rng, _agree_probability(item, cohort, year))
        setattr(answers, item, _maybe_skipped(rng, value))
    if cohort == "mentor":
        answers.mentor_again = _maybe_skipped(rng, _weighted(rng, MENTOR_AGAIN_WEIGHTS))
        answers.mentor_worthwhile = _maybe_skipped(rng, _likert(rng, WORTHWHILE_AGREE))
        answers.mentees_count = _maybe_skipped(rng, _weighted(rng, MENTEES_WEIGHTS))
        if "mentor_prepared" in instrument.variables:  # drawn last: earlier years' draws stay as they were
            answers.mentor_prepared = _maybe_skipped(rng, _likert(rng, PREPARED_AGREE))
    elif answers.mentor_formal == "no":
        answers.reasons = _random_reasons(
            rng, _reason_probability(instrument), must_tick=cohort == "non_mentor"
        )
    _fill_other_texts(answers, rng)
    return answers


def _informal_answer(rng: random.Random, cohort: str) -> str:
    if cohort == "informal":
        return "yes"
    if cohort == "non_mentor":
        return "no"
    return "yes" if rng.random() < 0.2 else "no"  # mentors and unclassified: either


def _reason_probability(instrument: Instrument) -> dict[int, float]:
    """How likely each reason the instrument offers is ticked, in code order."""
    return {
        code: REASON_PROBABILITY.get(code, NEW_REASON_PROBABILITY)
        for code in REASONS_OFFERED[instrument.name]
    }


def _random_reasons(
    rng: random.Random, probability: dict[int, float], must_tick: bool
) -> tuple[int, ...] | None:
    ticked = tuple(code for code, p in probability.items() if rng.random() < p)
    if not ticked and must_tick and rng.random() < 0.95:
        ticked = (_weighted(rng, probability),)
    return ticked or None


def _assign_comments(respondents: list[Response], rng: random.Random) -> None:
    """Mostly empty; a few plain comments, one multi-line, one with an e-mail, one with a phone."""
    n_plain = max(3, round(0.1 * len(respondents)))
    chosen = rng.sample(respondents, n_plain + 3)
    chosen[0].answers.comments = MULTILINE_COMMENT
    chosen[1].answers.comments = _email_comment(chosen[1].person)
    chosen[2].answers.comments = _phone_comment(rng)
    for response in chosen[3:]:
        response.answers.comments = rng.choice(PLAIN_COMMENTS)


def _cohort_of(answers: Answers) -> str:
    if answers.mentor_formal == "yes":
        return "mentor"
    if answers.mentor_formal == "no":
        return "informal" if answers.mentor_informal == "yes" else "non_mentor"
    return "unclassified"


def _apply_bad_cells(respondents: list[Response], bad_cells: Iterable[BadCell], rng: random.Random) -> None:
    """Put each bad cell on its own respondent, chosen at random among those allowed to carry it."""
    for bad in bad_cells:
        carriers = [
            r
            for r in respondents
            if not r.bad_cells and (bad.carrier == "any" or _cohort_of(r.answers) == bad.carrier)
        ]
        carrier = rng.choice(carriers)
        carrier.bad_cells[bad.variable] = bad.raw_value
        if bad.variable == "specialty":
            carrier.answers.specialty_text = None


# --------------------------------------------------------------------------------------------------
# Writing the files
# --------------------------------------------------------------------------------------------------


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _coded(value: str | None, codes: dict[str, str]) -> str:
    return "" if value is None else codes[value]


def _text(value: object | None) -> str:
    return "" if value is None else str(value)


def _v1_cells(response: Response) -> dict[str, str]:
    a, person = response.answers, response.person
    reasons = a.reasons or ()
    cells = {
        "V1": response.response_id,
        "V2": "Default Response Set",
        "V3": f"{person.first_name} {person.last_name}",
        "V4": person.external_reference,
        "V5": person.email,
        "V6": person.ip_address,
        "V7": "1" if response.preview else "0",
        "V8": _timestamp(response.started),
        "V9": _timestamp(response.ended),
        "V10": "1" if response.finished else "0",
        "Q1": _coded(a.consent, V1_YES_NO),
        "Q2": _coded(a.gender, V1_GENDER),
        "Q3": _text(a.age),
        "Q4": _text(a.specialty),
        "Q4_17_TEXT": _text(a.specialty_text),
        "Q5": _coded(a.mentor_formal, V1_YES_NO),
        "Q6": _coded(a.mentor_informal, V1_YES_NO),
        "Q7": _coded(a.had_student_mentor, V1_HAD_MENTOR),
        "Q8_1": _text(a.value_distinct),
        "Q8_2": _text(a.value_mentee),
        "Q8_3": _text(a.value_mentor),
        "Q9": _coded(a.mentor_again, V1_MENTOR_AGAIN),
        "Q10": _text(a.mentor_worthwhile),
        "Q11": _text(a.mentees_count),
        **{f"Q12_{code}": "1" if code in reasons else "" for code in REASONS_OFFERED["v1"]},
        "Q12_6_TEXT": _text(a.reasons_text),
        "Q13": _text(a.comments),
        "LocationLatitude": person.latitude,
        "LocationLongitude": person.longitude,
        "LocationAccuracy": "-1",
    }
    for variable, raw_value in response.bad_cells.items():
        cells[V1_COLUMN_OF[variable]] = raw_value
    return cells


def _v2_cells(response: Response, instrument: str = "v2") -> dict[str, str]:
    """The cells of a v2 row, or of a v3 row (instrument="v3": mentor_prepared and the 7th reason)."""
    a, person = response.answers, response.person
    mapping = _instrument(instrument)
    cells = {
        "StartDate": _timestamp(response.started),
        "EndDate": _timestamp(response.ended),
        "Status": "Survey Preview" if response.preview else "IP Address",
        "IPAddress": person.ip_address,
        "Progress": str(response.progress),
        "Duration (in seconds)": str(int((response.ended - response.started).total_seconds())),
        "Finished": "True" if response.finished else "False",
        "RecordedDate": _timestamp(response.recorded),
        "ResponseId": response.response_id,
        "RecipientLastName": person.last_name,
        "RecipientFirstName": person.first_name,
        "RecipientEmail": person.email,
        "ExternalReference": person.external_reference,
        "LocationLatitude": person.latitude,
        "LocationLongitude": person.longitude,
        "DistributionChannel": "preview" if response.preview else "anonymous",
        "UserLanguage": "EN",
        "consent": _coded(a.consent, V2_YES_NO),
        "gender": _coded(a.gender, V2_GENDER),
        "gender_4_TEXT": _text(a.gender_text),
        "age": _text(a.age),
        "specialty": "" if a.specialty is None else SPECIALTIES[a.specialty][0],
        "specialty_17_TEXT": _text(a.specialty_text),
        "mentor_formal": _coded(a.mentor_formal, V2_YES_NO),
        "mentor_informal": _coded(a.mentor_informal, V2_YES_NO),
        "had_student_mentor": _coded(a.had_student_mentor, V2_HAD_MENTOR),
        "SSM_value_1": _likert_label(a.value_distinct),
        "SSM_value_2": _likert_label(a.value_mentee),
        "SSM_value_3": _likert_label(a.value_mentor),
        "mentor_again": _coded(a.mentor_again, V2_MENTOR_AGAIN),
        "mentor_worthwhile": _likert_label(a.mentor_worthwhile),
        "mentees_count": _text(a.mentees_count),
        # Qualtrics joins the chosen labels with a bare comma even though label 1 contains commas.
        "nonpart_reasons": ",".join(REASONS_OFFERED[instrument][code] for code in sorted(a.reasons or ())),
        "nonpart_reasons_6_TEXT": _text(a.reasons_text),
        "comments": _text(a.comments),
    }
    column_of = V2_COLUMN_OF
    if "mentor_prepared" in mapping.variables:
        prepared = mapping.variables["mentor_prepared"]
        labels = {choice.value: choice.label for choice in prepared.choices}
        cells[prepared.column] = "" if a.mentor_prepared is None else labels[a.mentor_prepared]
        column_of = V3_COLUMN_OF
    for variable, raw_value in response.bad_cells.items():
        cells[column_of[variable]] = raw_value
    return cells


def _likert_label(value: int | None) -> str:
    return "" if value is None else V2_LIKERT[value]


@dataclass(frozen=True)
class _ExportFormat:
    header_rows: list[list[str]]
    encode: Callable[[Response], dict[str, str]]
    encoding: str
    line_terminator: str


V1_FORMAT = _ExportFormat(
    header_rows=[[tag for tag, _ in V1_HEADER], [text for _, text in V1_HEADER]],
    encode=_v1_cells,
    encoding="utf-8-sig",  # the legacy exporter wrote a byte-order mark
    line_terminator="\r\n",  # and Windows line endings, as the files that passed through Excel have
)
V2_FORMAT = _ExportFormat(
    header_rows=[
        [tag for tag, _, _ in V2_HEADER],
        [text for _, text, _ in V2_HEADER],
        [json.dumps({"ImportId": import_id}, separators=(",", ":")) for _, _, import_id in V2_HEADER],
    ],
    encode=_v2_cells,
    encoding="utf-8",
    line_terminator="\n",
)
V3_FORMAT = _ExportFormat(
    header_rows=[
        [tag for tag, _, _ in V3_HEADER],
        [text for _, text, _ in V3_HEADER],
        [json.dumps({"ImportId": import_id}, separators=(",", ":")) for _, _, import_id in V3_HEADER],
    ],
    encode=partial(_v2_cells, instrument="v3"),
    encoding="utf-8",
    line_terminator="\n",
)
EXPORT_FORMATS = {"v1": V1_FORMAT, "v2": V2_FORMAT, "v3": V3_FORMAT}


def _write_delivery(path: Path, year: int, responses: list[Response]) -> None:
    export = EXPORT_FORMATS[_instrument_of_year(year).name]
    columns = export.header_rows[0]
    with path.open("w", encoding=export.encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator=export.line_terminator)
        writer.writerows(export.header_rows)
        for response in responses:
            cells = export.encode(response)
            writer.writerow([cells[column] for column in columns])


def _write_class_sizes(path: Path, class_sizes: dict[int, int]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["survey_year", "class_size"])
        for year in sorted(class_sizes):
            writer.writerow([year, class_sizes[year]])
