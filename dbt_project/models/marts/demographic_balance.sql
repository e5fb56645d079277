-- Are mentors and non-mentors alike? One row per survey year and characteristic (spec §8):
--   gender           female against male (other answers are shown, not tested): Fisher's exact test,
--                    statistic null; SMD of the share female;
--   age              Welch's t (mentors minus non-mentors) and the SMD of the means;
--   specialty_group  primary_care, surgical and other (not_matched is shown, not tested): Pearson's
--                    chi-square without continuity correction, or Fisher's exact test when only two of
--                    the groups occur that year; Yang and Dalton's SMD (never negative).
-- A level nobody has that year is left out before testing, as scipy and tableone see no such level.
-- Every figure is null where it is undefined (an empty cohort, no variation), never an error. The
-- p-values come from scipy through the DuckDB functions fisher_exact_p, chi_square_p and welch_t_p
-- (pipelines/lib/stats/pvalues.py); everything else is closed form here.
--
-- Incremental by survey year like the other per-year marts; when the table does not exist yet, the
-- first build computes every year on record (as item_distributions does).
{% set in_years = for_survey_year() if is_incremental() else 'true' %}

with funnel as (
    select survey_year from {{ ref('response_funnel') }}
    where {{ in_years }}
),

compared as (
    select survey_year, 'mentor' as cohort, gender, age, specialty_group
    from {{ ref('cohort_mentors') }}
    where {{ in_years }}
    union all
    select survey_year, 'non_mentor' as cohort, gender, age, specialty_group
    from {{ ref('cohort_non_mentors') }}
    where {{ in_years }}
),

-- Per year, for the mentors (_1) and the non-mentors (_2): the tested levels' counts, and the known
-- ages as exact whole-number sums (n, sum, sum of squares), which give the same figures whatever order
-- the rows come in.
tallies as (
    select
        funnel.survey_year,
        count(*) filter (where compared.cohort = 'mentor' and compared.gender = 'female') as female_1,
        count(*) filter (where compared.cohort = 'mentor' and compared.gender = 'male') as male_1,
        count(*) filter (where compared.cohort = 'non_mentor' and compared.gender = 'female') as female_2,
        count(*) filter (where compared.cohort = 'non_mentor' and compared.gender = 'male') as male_2,
        count(compared.age) filter (where compared.cohort = 'mentor') as age_n_1,
        coalesce(sum(compared.age) filter (where compared.cohort = 'mentor'), 0) as age_sum_1,
        coalesce(sum(compared.age * compared.age) filter (where compared.cohort = 'mentor'), 0)
            as age_squares_1,
        count(compared.age) filter (where compared.cohort = 'non_mentor') as age_n_2,
        coalesce(sum(compared.age) filter (where compared.cohort = 'non_mentor'), 0) as age_sum_2,
        coalesce(sum(compared.age * compared.age) filter (where compared.cohort = 'non_mentor'), 0)
            as age_squares_2,
        count(*) filter (where compared.cohort = 'mentor' and compared.specialty_group = 'primary_care')
            as primary_care_1,
        count(*) filter (where compared.cohort = 'mentor' and compared.specialty_group = 'surgical')
            as surgical_1,
        count(*) filter (where compared.cohort = 'mentor' and compared.specialty_group = 'other')
            as other_1,
        count(*) filter (where compared.cohort = 'non_mentor' and compared.specialty_group = 'primary_care')
            as primary_care_2,
        count(*) filter (where compared.cohort = 'non_mentor' and compared.specialty_group = 'surgical')
            as surgical_2,
        count(*) filter (where compared.cohort = 'non_mentor' and compared.specialty_group = 'other')
            as other_2
    from funnel
    left join compared on funnel.survey_year = compared.survey_year
    group by funnel.survey_year
),

-- Gender: the 2x2 table female/male by cohort. Fisher's p needs both cohorts and both levels.
gender as (
    select
        survey_year,
        'gender' as characteristic,
        'fisher_exact' as test,
        null::double as statistic,
        case
            when female_1 + male_1 > 0 and female_2 + male_2 > 0 and female_1 + female_2 > 0
                and male_1 + male_2 > 0
                then fisher_exact_p(female_1, male_1, female_2, male_2)
        end as p_value,
        {{ smd_binary('female_1', '(female_1 + male_1)', 'female_2', '(female_2 + male_2)') }} as smd
    from tallies
),

-- Age: sample variances (n - 1) and the difference of the means from exact numerators:
-- n q - s² = n Σ(x - mean)², and mean_1 - mean_2 = (s1 n2 - s2 n1) / (n1 n2). Defined when each
-- cohort has 2 ages or more and not both cohorts are all of one age.
age_moments as (
    select
        survey_year,
        age_n_1,
        age_n_2,
        age_n_1 >= 2 and age_n_2 >= 2
        and age_n_1 * age_squares_1 - age_sum_1 * age_sum_1 + age_n_2 * age_squares_2 - age_sum_2 * age_sum_2 > 0
            as defined,
        case when age_n_1 >= 2 then
            (age_n_1 * age_squares_1 - age_sum_1 * age_sum_1)::double / (age_n_1 * (age_n_1 - 1))
        end as variance_1,
        case when age_n_2 >= 2 then
            (age_n_2 * age_squares_2 - age_sum_2 * age_sum_2)::double / (age_n_2 * (age_n_2 - 1))
        end as variance_2,
        case when age_n_1 > 0 and age_n_2 > 0 then
            (age_sum_1 * age_n_2 - age_sum_2 * age_n_1)::double / (age_n_1 * age_n_2)
        end as mean_difference
    from tallies
),

-- Welch's t = (mean_1 - mean_2) / sqrt(v1/n1 + v2/n2) with the Welch-Satterthwaite degrees of freedom
-- (v1/n1 + v2/n2)² / ((v1/n1)²/(n1 - 1) + (v2/n2)²/(n2 - 1)); SMD as tableone computes it for a
-- continuous variable, (mean_1 - mean_2) / sqrt((v1 + v2) / 2) (tableone prints its magnitude).
age_figures as (
    select
        survey_year,
        mean_difference / sqrt(variance_1 / age_n_1 + variance_2 / age_n_2) as t,
        (variance_1 / age_n_1 + variance_2 / age_n_2) ^ 2
        / ((variance_1 / age_n_1) ^ 2 / (age_n_1 - 1) + (variance_2 / age_n_2) ^ 2 / (age_n_2 - 1)) as df,
        mean_difference / sqrt((variance_1 + variance_2) / 2) as smd
    from age_moments
    where defined
),

age as (
    select
        age_moments.survey_year,
        'age' as characteristic,
        'welch_t' as test,
        age_figures.t as statistic,
        welch_t_p(age_figures.t, age_figures.df) as p_value,
        age_figures.smd
    from age_moments
    left join age_figures on age_moments.survey_year = age_figures.survey_year
),

-- Specialty group: the 2x3 table by cohort, o1j for the mentors and o2j for the non-mentors, with the
-- cohorts' totals r1, r2, the levels' totals cj and how many levels anybody has.
specialty_table as (
    select
        survey_year,
        primary_care_1 as o11, surgical_1 as o12, other_1 as o13,
        primary_care_2 as o21, surgical_2 as o22, other_2 as o23,
        primary_care_1 + surgical_1 + other_1 as r1,
        primary_care_2 + surgical_2 + other_2 as r2,
        primary_care_1 + primary_care_2 as c1,
        surgical_1 + surgical_2 as c2,
        other_1 + other_2 as c3,
        (primary_care_1 + primary_care_2 > 0)::integer + (surgical_1 + surgical_2 > 0)::integer
        + (other_1 + other_2 > 0)::integer as levels
    from tallies
),

-- Pearson's chi-square over the levels anybody has: with n = r1 + r2, a level adds
-- (o1j - e1j)²/e1j + (o2j - e2j)²/e2j = (n o1j - r1 cj)² / (cj r1 r2), an exact numerator.
-- With 2 levels the table is 2x2 and Fisher's exact test is used instead (on the two levels there).
-- Yang and Dalton's SMD: with 3 levels, shares of surgical and other (the first level dropped, as
-- tableone does; the figure does not depend on which), S = (S1 + S2)/2 with S_g = diag(p_g) - p_g p_gᵀ,
-- sqrt(dᵀ S⁻¹ d) for d = p1 - p2, the 2x2 inverse written out. It is null when no level is had by
-- both cohorts (S is singular; tableone gives nan).
specialty_figures as (
    select
        *,
        levels >= 2 and r1 > 0 and r2 > 0 as testable,
        (o11 > 0 and o21 > 0) or (o12 > 0 and o22 > 0) or (o13 > 0 and o23 > 0) as shared,
        case when c1 > 0 then ((r1 + r2) * o11 - r1 * c1)::double ^ 2 / (c1 * r1 * r2) else 0 end
        + case when c2 > 0 then ((r1 + r2) * o12 - r1 * c2)::double ^ 2 / (c2 * r1 * r2) else 0 end
        + case when c3 > 0 then ((r1 + r2) * o13 - r1 * c3)::double ^ 2 / (c3 * r1 * r2) else 0 end
            as chi_square,
        o12::double / nullif(r1, 0) as u2,
        o13::double / nullif(r1, 0) as u3,
        o22::double / nullif(r2, 0) as w2,
        o23::double / nullif(r2, 0) as w3
    from specialty_table
),

specialty_covariance as (
    select
        *,
        (u2 * (1 - u2) + w2 * (1 - w2)) / 2 as s22,
        (u3 * (1 - u3) + w3 * (1 - w3)) / 2 as s33,
        (-u2 * u3 - w2 * w3) / 2 as s23,
        u2 - w2 as d2,
        u3 - w3 as d3
    from specialty_figures
),

specialty as (
    select
        survey_year,
        'specialty_group' as characteristic,
        case when levels = 2 then 'fisher_exact' else 'chi_square' end as test,
        case when testable and levels = 3 then chi_square end as statistic,
        case
            when testable and levels = 3 then chi_square_p(chi_square, 2)
            when testable and c1 = 0 then fisher_exact_p(o12, o13, o22, o23)
            when testable and c2 = 0 then fisher_exact_p(o11, o13, o21, o23)
            when testable then fisher_exact_p(o11, o12, o21, o22)
        end as p_value,
        case
            when not testable or not shared then null
            when levels = 3 then sqrt(greatest(0.0,
                (s33 * d2 ^ 2 - 2 * s23 * d2 * d3 + s22 * d3 ^ 2) / (s22 * s33 - s23 ^ 2)
            ))
            -- two levels: the binary SMD's magnitude, of either level there
            when c3 > 0 then abs({{ smd_binary('o13', 'r1', 'o23', 'r2') }})
            else abs({{ smd_binary('o12', 'r1', 'o22', 'r2') }})
        end as smd
    from specialty_covariance
),

final as (
    select * from gender
    union all
    select * from age
    union all
    select * from specialty
)

select
    survey_year::bigint as survey_year,
    characteristic,
    test,
    statistic::double as statistic,
    p_value::double as p_value,
    smd::double as smd
from final
