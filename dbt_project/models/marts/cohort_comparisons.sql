-- Mentors against non-mentors on the metrics the codebook compares (spec §8: the three value items): one row per survey year and
-- metric_id, with the 2x2 table that metric_summary counted, a = mentors yes, b = mentors not yes,
-- c = non-mentors yes, d = non-mentors not yes. Risk ratio with its Katz log interval, odds ratio with
-- its Woolf logit interval; when any cell is 0, 0.5 is added to all four for these (zero_cell_corrected),
-- not only to the zero cells as statsmodels' default does. Fisher's exact p (two-sided, scipy, through
-- the DuckDB function fisher_exact_p) uses the table as counted. Every figure is null when a cohort has
-- no answer.
--
-- Incremental by survey year like the other per-year marts; when the table does not exist yet, the
-- first build computes every year on record (as item_distributions does).
{% set in_years = for_survey_year() if is_incremental() else 'true' %}

with summary as (
    select * from {{ ref('metric_summary') }}
    where {{ in_years }}
    and metric_id in (select metric_id from {{ ref('metrics') }} where compared)
),

tables as (
    select
        mentors.survey_year,
        mentors.metric_id,
        mentors.numerator as mentor_yes,
        mentors.denominator as mentor_n,
        non_mentors.numerator as non_mentor_yes,
        non_mentors.denominator as non_mentor_n
    from summary as mentors
    inner join summary as non_mentors
        on mentors.survey_year = non_mentors.survey_year
        and mentors.metric_id = non_mentors.metric_id
    where mentors.cohort = '{{ codebook_compared_cohorts()[0] }}'
    and non_mentors.cohort = '{{ codebook_compared_cohorts()[1] }}'
),

cells as (
    select
        *,
        mentor_yes as a,
        mentor_n - mentor_yes as b,
        non_mentor_yes as c,
        non_mentor_n - non_mentor_yes as d,
        mentor_n > 0 and non_mentor_n > 0 as defined
    from tables
),

corrected as (
    select
        *,
        defined and least(a, b, c, d) = 0 as zero_cell_corrected
    from cells
),

-- The cells the ratios use: 0.5 added to each when one is 0.
shifted as (
    select
        *,
        a + case when zero_cell_corrected then 0.5 else 0.0 end as fa,
        b + case when zero_cell_corrected then 0.5 else 0.0 end as fb,
        c + case when zero_cell_corrected then 0.5 else 0.0 end as fc,
        d + case when zero_cell_corrected then 0.5 else 0.0 end as fd
    from corrected
),

-- On the log scale the intervals are symmetric: ln RR +/- z se, ln OR +/- z se.
logs as (
    select
        *,
        ln(fa / (fa + fb)) - ln(fc / (fc + fd)) as log_rr,
        sqrt(1 / fa - 1 / (fa + fb) + 1 / fc - 1 / (fc + fd)) as se_log_rr,
        ln(fa) + ln(fd) - ln(fb) - ln(fc) as log_or,
        sqrt(1 / fa + 1 / fb + 1 / fc + 1 / fd) as se_log_or
    from shifted
    where defined
),

final as (
    select
        cells.survey_year::bigint as survey_year,
        cells.metric_id,
        cells.mentor_yes,
        cells.mentor_n,
        cells.non_mentor_yes,
        cells.non_mentor_n,
        (logs.fa / (logs.fa + logs.fb)) / (logs.fc / (logs.fc + logs.fd)) as risk_ratio,
        exp(logs.log_rr - {{ z_975() }} * logs.se_log_rr) as rr_ci_low,
        exp(logs.log_rr + {{ z_975() }} * logs.se_log_rr) as rr_ci_high,
        (logs.fa * logs.fd) / (logs.fb * logs.fc) as odds_ratio,
        exp(logs.log_or - {{ z_975() }} * logs.se_log_or) as or_ci_low,
        exp(logs.log_or + {{ z_975() }} * logs.se_log_or) as or_ci_high,
        fisher_exact_p(logs.a, logs.b, logs.c, logs.d) as p_value,
        coalesce(logs.zero_cell_corrected, false) as zero_cell_corrected
    from cells
    left join logs
        on cells.survey_year = logs.survey_year
        and cells.metric_id = logs.metric_id
)

select * from final
