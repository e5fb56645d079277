-- received = preview + incomplete + no_consent + duplicate + rejected + respondents (spec §5), and the
-- cohorts add up to the respondents (spec §7).
select *
from {{ ref('response_funnel') }}
where
    received <> preview + incomplete + no_consent + duplicate + rejected + respondents
    or respondents <> mentors + non_mentors + informal + unclassified
