"""The report's vocabulary: how each metric, cohort, answer, group and rule is named for a reader.

One place for the words; the figures come from the marts (``report_marts``), their protection from
``report_figures`` and the sentences from ``report_data``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """How one §8 metric is named and worded in the report."""

    metric_id: str
    label: str  # short name for tables and charts
    question: str  # the item as the survey asked it
    clause: str  # the statement, lower-case, to follow "agree that ..."
    answer: str  # what counts: "agree" (4 or 5) or "yes"
    cohorts: tuple[str, ...]  # cohorts shown in tables, trends and charts
    levels: tuple[str, ...]  # answer levels of item_distributions, in display order
    yes_levels: tuple[str, ...]  # the levels that count as agreeing / yes


LIKERT_LEVELS = ("1", "2", "3", "4", "5")
LIKERT_YES = ("4", "5")
LEVEL_NAMES = {
    "1": "Strongly disagree",
    "2": "Disagree",
    "3": "Neither agree nor disagree",
    "4": "Agree",
    "5": "Strongly agree",
    "yes": "Yes",
    "no": "No",
    "unsure": "Unsure",
}

VALUE_ITEMS = ("value_distinct", "value_mentee", "value_mentor")
MENTOR_ITEMS = ("mentor_again", "mentor_worthwhile")

METRICS: dict[str, Metric] = {
    "value_distinct": Metric(
        "value_distinct",
        "SSM has a value of its own",
        "SSM is valuable in a way that is different from student/resident or student/faculty mentoring.",
        "student/student mentoring is valuable in a way that is different from student/resident or "
        "student/faculty mentoring",
        "agree",
        ("all", "mentor", "non_mentor"),
        LIKERT_LEVELS,
        LIKERT_YES,
    ),
    "value_mentee": Metric(
        "value_mentee",
        "Being a mentee is beneficial",
        "Being the mentee in an SSM relationship is (or would be) beneficial.",
        "being the mentee in an SSM relationship is (or would be) beneficial",
        "agree",
        ("all", "mentor", "non_mentor"),
        LIKERT_LEVELS,
        LIKERT_YES,
    ),
    "value_mentor": Metric(
        "value_mentor",
        "Being a mentor is valuable",
        "Being a mentor in an SSM program is (or would be) valuable.",
        "being a mentor in an SSM program is (or would be) valuable",
        "agree",
        ("all", "mentor", "non_mentor"),
        LIKERT_LEVELS,
        LIKERT_YES,
    ),
    # Only formal mentors are asked these two (§2), so only the mentor cohort is shown; "all" would
    # repeat the same people and "non_mentor" is always "no data".
    "mentor_again": Metric(
        "mentor_again",
        "Would mentor again",
        "Would you serve as a mentor again?",
        "they would serve as a mentor again",
        "yes",
        ("mentor",),
        ("yes", "unsure", "no"),
        ("yes",),
    ),
    "mentor_worthwhile": Metric(
        "mentor_worthwhile",
        "Mentoring was worthwhile",
        "Serving as a mentor was a worthwhile experience.",
        "serving as a mentor was a worthwhile experience",
        "agree",
        ("mentor",),
        LIKERT_LEVELS,
        LIKERT_YES,
    ),
}

COHORT_LABELS = {"all": "All respondents", "mentor": "Mentors", "non_mentor": "Non-mentors"}

#: Buckets of responses that are not counted (spec §5), in the order they are applied.
EXCLUSIONS = (
    ("preview", "Preview, test or spam", "Test runs by staff, previews and spam, not students' answers."),
    ("incomplete", "Not finished", "Started the survey but did not submit it."),
    ("no_consent", "Did not consent", "Declined the consent question, so no answers are used."),
    ("duplicate", "Duplicate", "An earlier copy of a response that was submitted again; the latest is kept."),
    ("rejected", "Unreadable", "A row that could not be read at all."),
)

#: The four cohorts of spec §7: (response_funnel column, cohort code, label, description, compared).
COHORTS_FLOW = (
    ("mentors", "mentor", "Mentors", "Mentored in the formal SSM program.", True),
    ("non_mentors", "non_mentor", "Non-mentors", "Took part in no student/student mentoring.", True),
    (
        "informal",
        "informal",
        "Informal only",
        "Took part only in informal mentoring: counted, not compared.",
        False,
    ),
    (
        "unclassified",
        "unclassified",
        "Unclassified",
        "Did not say whether they mentored: counted, not compared.",
        False,
    ),
)

#: Demographic characteristics: code -> (label, levels in display order; age has none).
CHARACTERISTICS = {
    "gender": ("Gender", ("female", "male", "nonbinary_or_other", "not_reported")),
    "age": ("Age (years)", ()),
    "specialty_group": ("Specialty matched into", ("primary_care", "surgical", "other", "not_matched")),
}
CHARACTERISTIC_NAMES = {"gender": "gender", "age": "age", "specialty_group": "matched specialty group"}

DEMOGRAPHIC_LEVELS = {
    "female": "Female",
    "male": "Male",
    "nonbinary_or_other": "Non-binary or other",
    "not_reported": "Preferred not to say",
    "primary_care": "Primary care",
    "surgical": "Surgical",
    "other": "Other specialties",
    "not_matched": "Did not match / not applicable",
}

#: Which levels enter each test (spec §8): gender compares female with male only, specialty_group
#: leaves out not_matched.
TESTED_LEVELS = {"gender": ("female", "male"), "specialty_group": ("primary_care", "surgical", "other")}

TEST_LABELS = {
    "fisher_exact": "Fisher's exact test",
    "chi_square": "Chi-square test",
    "welch_t": "Welch's t-test",
}

TEST_NOTES = {
    "gender": "The test compares women with men; other answers are shown but not tested.",
    "specialty_group": "The test leaves out students who did not match.",
    "age": "Mean (standard deviation) of students who gave a valid age.",
}

#: Column headings of the reasons-over-the-years table (the full labels are in the table's caption).
REASON_SHORT_LABELS = {
    1: "No time",
    2: "Not aware",
    3: "Not interested",
    4: "Not qualified",
    5: "Not selected",
    6: "Other",
    7: "Schedule",
}

DQ_RULE_LABELS = {
    "not_an_integer": "Not a whole number",
    "out_of_range": "Outside the allowed range",
    "not_in_code_list": "Code not in the answer list",
    "unknown_label": "Answer text not in the answer list",
    "off_branch": "Answer to a question the respondent was not meant to see",
}

# v1 exports name columns Q1..Q13; say which question they are so the appendix reads without the codebook.
V1_COLUMN_VARIABLES = {
    "Q1": "consent",
    "Q2": "gender",
    "Q3": "age",
    "Q4": "specialty",
    "Q5": "mentor_formal",
    "Q6": "mentor_informal",
    "Q7": "had_student_mentor",
    "Q8_1": "value_distinct",
    "Q8_2": "value_mentee",
    "Q8_3": "value_mentor",
    "Q9": "mentor_again",
    "Q10": "mentor_worthwhile",
    "Q11": "mentees_count",
    "Q12": "nonpart_reasons",
}

INSTRUMENT_LABELS = {
    "v1": "Qualtrics legacy export (v1, numeric codes)",
    "v2": "Qualtrics current export (v2)",
}
