{#- The tests of marts.demographic_balance, one macro per kind of characteristic (spec §8). Each defines
    CTEs named after the characteristic, ending in `balance_<name>` (survey_year, characteristic, test,
    statistic, p_value, smd), over the CTEs `funnel` (survey_year) and `compared` (survey_year, cohort
    'mentor' or 'non_mentor', and the characteristic's column). Mentors are group 1, non-mentors group 2.
    The p-values come from scipy through the DuckDB functions of pipelines/lib/stats/pvalues.py;
    everything else is closed form. Every figure is null where it is undefined (an empty cohort, no
    variation), never an error. -#}

{#- Which test a characteristic of the codebook gets: a number (Welch's t), two tested levels
    (Fisher's exact test on the 2x2 table) or three (chi-square). Any other shape is refused when dbt
    compiles, since its test is not written. -#}
{% macro balance_of(characteristic) -%}
    {%- set tested = characteristic.tested -%}
    {%- if characteristic.numeric -%}
        {{ numeric_balance(characteristic.name, characteristic.column) }}
    {%- elif tested | length == 2 -%}
        {{ binary_balance(characteristic.name, characteristic.column, tested) }}
    {%- elif tested | length == 3 -%}
        {{ three_level_balance(characteristic.name, characteristic.column, tested) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "schemas/codebook.yaml: characteristics." ~ characteristic.name ~ " tests " ~ (tested | length)
            ~ " levels; demographic_balance has tests for a number or for 2 or 3 tested levels only."
            ~ " Test 2 or 3 of its levels (tested: [...]), or write its test in macros/balance_tests.sql.") }}
    {%- endif -%}
{%- endmacro %}

{#- Two tested levels (gender: female against male; the other answers are shown, not tested): the 2x2
    table by cohort, Fisher's exact test (statistic null) and the SMD of the share of the first level.
    Fisher's p needs both cohorts and both levels. -#}
{% macro binary_balance(name, column, levels) -%}
{{ name }}_tallies as (
    select
        funnel.survey_year,
        count(*) filter (where compared.cohort = 'mentor' and compared.{{ column }} = '{{ levels[0] }}') as a1,
        count(*) filter (where compared.cohort = 'mentor' and compared.{{ column }} = '{{ levels[1] }}') as b1,
        count(*) filter (where compared.cohort = 'non_mentor' and compared.{{ column }} = '{{ levels[0] }}') as a2,
        count(*) filter (where compared.cohort = 'non_mentor' and compared.{{ column }} = '{{ levels[1] }}') as b2
    from funnel
    left join compared on funnel.survey_year = compared.survey_year
    group by funnel.survey_year
),

balance_{{ name }} as (
    select
        survey_year,
        '{{ name }}' as characteristic,
        'fisher_exact' as test,
        null::double as statistic,
        case
            when a1 + b1 > 0 and a2 + b2 > 0 and a1 + a2 > 0 and b1 + b2 > 0
                then fisher_exact_p(a1, b1, a2, b2)
        end as p_value,
        {{ smd_binary('a1', '(a1 + b1)', 'a2', '(a2 + b2)') }} as smd
    from {{ name }}_tallies
)
{%- endmacro %}

{#- A number (age): Welch's t (mentors minus non-mentors) and the SMD of the means. The known values as
    exact whole-number sums (n, sum, sum of squares) give the same figures whatever order the rows come
    in. Sample variances (n - 1) and the difference of the means from exact numerators:
    n q - s² = n Σ(x - mean)², and mean_1 - mean_2 = (s1 n2 - s2 n1) / (n1 n2). Defined when each
    cohort has 2 values or more and not both cohorts are all of one value. Welch's t =
    (mean_1 - mean_2) / sqrt(v1/n1 + v2/n2) with the Welch-Satterthwaite degrees of freedom
    (v1/n1 + v2/n2)² / ((v1/n1)²/(n1 - 1) + (v2/n2)²/(n2 - 1)); SMD as tableone computes it for a
    continuous variable, (mean_1 - mean_2) / sqrt((v1 + v2) / 2). -#}
{% macro numeric_balance(name, column) -%}
{{ name }}_tallies as (
    select
        funnel.survey_year,
        count(compared.{{ column }}) filter (where compared.cohort = 'mentor') as n_1,
        coalesce(sum(compared.{{ column }}) filter (where compared.cohort = 'mentor'), 0) as sum_1,
        coalesce(sum(compared.{{ column }} * compared.{{ column }}) filter (where compared.cohort = 'mentor'), 0)
            as squares_1,
        count(compared.{{ column }}) filter (where compared.cohort = 'non_mentor') as n_2,
        coalesce(sum(compared.{{ column }}) filter (where compared.cohort = 'non_mentor'), 0) as sum_2,
        coalesce(sum(compared.{{ column }} * compared.{{ column }}) filter (where compared.cohort = 'non_mentor'), 0)
            as squares_2
    from funnel
    left join compared on funnel.survey_year = compared.survey_year
    group by funnel.survey_year
),

{{ name }}_moments as (
    select
        survey_year,
        n_1,
        n_2,
        n_1 >= 2 and n_2 >= 2
        and n_1 * squares_1 - sum_1 * sum_1 + n_2 * squares_2 - sum_2 * sum_2 > 0 as defined,
        case when n_1 >= 2 then (n_1 * squares_1 - sum_1 * sum_1)::double / (n_1 * (n_1 - 1)) end as variance_1,
        case when n_2 >= 2 then (n_2 * squares_2 - sum_2 * sum_2)::double / (n_2 * (n_2 - 1)) end as variance_2,
        case when n_1 > 0 and n_2 > 0 then (sum_1 * n_2 - sum_2 * n_1)::double / (n_1 * n_2) end
            as mean_difference
    from {{ name }}_tallies
),

{{ name }}_figures as (
    select
        survey_year,
        mean_difference / sqrt(variance_1 / n_1 + variance_2 / n_2) as t,
        (variance_1 / n_1 + variance_2 / n_2) ^ 2
        / ((variance_1 / n_1) ^ 2 / (n_1 - 1) + (variance_2 / n_2) ^ 2 / (n_2 - 1)) as df,
        mean_difference / sqrt((variance_1 + variance_2) / 2) as smd
    from {{ name }}_moments
    where defined
),

balance_{{ name }} as (
    select
        {{ name }}_moments.survey_year,
        '{{ name }}' as characteristic,
        'welch_t' as test,
        {{ name }}_figures.t as statistic,
        welch_t_p({{ name }}_figures.t, {{ name }}_figures.df) as p_value,
        {{ name }}_figures.smd
    from {{ name }}_moments
    left join {{ name }}_figures on {{ name }}_moments.survey_year = {{ name }}_figures.survey_year
)
{%- endmacro %}

{#- Three tested levels (specialty_group: primary_care, surgical and other; not_matched is shown, not
    tested): the 2x3 table by cohort, o1j for the mentors and o2j for the non-mentors, with the cohorts'
    totals r1, r2, the levels' totals cj and how many levels anybody has.
    Pearson's chi-square without continuity correction over the levels anybody has: with n = r1 + r2, a
    level adds (o1j - e1j)²/e1j + (o2j - e2j)²/e2j = (n o1j - r1 cj)² / (cj r1 r2), an exact numerator.
    With 2 levels there the table is 2x2 and Fisher's exact test is used instead (on those two levels).
    Yang and Dalton's SMD: with 3 levels, shares of the second and third (the first level dropped, as
    tableone does; the figure does not depend on which), S = (S1 + S2)/2 with S_g = diag(p_g) - p_g p_gᵀ,
    sqrt(dᵀ S⁻¹ d) for d = p1 - p2, the 2x2 inverse written out. It is null when no level is had by
    both cohorts (S is singular; tableone gives nan). -#}
{% macro three_level_balance(name, column, levels) -%}
{{ name }}_table as (
    select
        funnel.survey_year,
        {% for level in levels -%}
        count(*) filter (where compared.cohort = 'mentor' and compared.{{ column }} = '{{ level }}') as o1{{ loop.index }},
        count(*) filter (where compared.cohort = 'non_mentor' and compared.{{ column }} = '{{ level }}') as o2{{ loop.index }}{{ "," if not loop.last }}
        {% endfor %}
    from funnel
    left join compared on funnel.survey_year = compared.survey_year
    group by funnel.survey_year
),

{{ name }}_totals as (
    select
        *,
        o11 + o12 + o13 as r1,
        o21 + o22 + o23 as r2,
        o11 + o21 as c1,
        o12 + o22 as c2,
        o13 + o23 as c3,
        (o11 + o21 > 0)::integer + (o12 + o22 > 0)::integer + (o13 + o23 > 0)::integer as levels
    from {{ name }}_table
),

{{ name }}_figures as (
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
    from {{ name }}_totals
),

{{ name }}_covariance as (
    select
        *,
        (u2 * (1 - u2) + w2 * (1 - w2)) / 2 as s22,
        (u3 * (1 - u3) + w3 * (1 - w3)) / 2 as s33,
        (-u2 * u3 - w2 * w3) / 2 as s23,
        u2 - w2 as d2,
        u3 - w3 as d3
    from {{ name }}_figures
),

balance_{{ name }} as (
    select
        survey_year,
        '{{ name }}' as characteristic,
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
    from {{ name }}_covariance
)
{%- endmacro %}
