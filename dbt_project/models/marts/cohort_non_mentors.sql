-- One row per respondent of the non-mentor cohort (spec §7): neither formal nor informal.
{{ cohort_table('non_mentor') }}
