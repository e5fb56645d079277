-- One row per respondent of the mentor cohort (spec §7): formal mentors, whatever informal says.
{{ cohort_table('mentor') }}
