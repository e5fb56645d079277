-- Cochran-Armitage test for trend (scores = the survey years, no continuity correction), one row per
-- metric, cohort and last_year (spec §8, rev 2).
--
-- For every survey year Y in which the metric has data for the cohort (denominator > 0): the test over
-- the years of Y's series (metric_trends.series_start) up to and including Y. first_year = the first of
-- those years on record, last_year = Y, years = how many of them have data; z is null when fewer than 2
-- years have data, or when every answer, or none, agrees (no variance). The two-sided normal p-value
-- comes from scipy through the DuckDB function normal_two_sided_p. A year's report reads the rows with
-- last_year = its year, so loading later years never changes its figures. Rebuilt whole on every load.
with trends as (
    select metric_id, cohort, series_start, survey_year, numerator, denominator
    from {{ ref('metric_trends') }}
),

ends as (
    select metric_id, cohort, series_start, survey_year as last_year
    from trends
    where denominator > 0
),

windows as (
    select
        ends.metric_id,
        ends.cohort,
        ends.last_year,
        trends.survey_year,
        trends.numerator,
        trends.denominator,
        min(trends.survey_year) over (partition by ends.metric_id, ends.cohort, ends.last_year) as first_year
    from ends
    inner join trends
        on ends.metric_id = trends.metric_id
        and ends.cohort = trends.cohort
        and ends.series_start = trends.series_start
        and trends.survey_year <= ends.last_year
),

-- With scores t = year - first_year (the test does not change when the scores are shifted), x the
-- agreeing and n the answering, N = Σ n: whole-number sums, exact in any order.
sums as (
    select
        metric_id,
        cohort,
        last_year,
        min(first_year) as first_year,
        count(*) filter (where denominator > 0) as years,
        sum(denominator)::hugeint as big_n,
        sum(numerator)::hugeint as s_x,
        sum((survey_year - first_year) * numerator)::hugeint as s_tx,
        sum((survey_year - first_year) * denominator)::hugeint as s_tn,
        sum((survey_year - first_year) * (survey_year - first_year) * denominator)::hugeint as s_ttn
    from windows
    group by all
),

-- Spec §8: p = Σx/N, T = Σ t (x - n p), Var(T) = p(1 - p) [Σ t² n - (Σ t n)²/N], z = T / sqrt(Var(T)).
-- Multiplied out, z = (N Σtx - Σx Σtn) sqrt(N) / sqrt(Σx (N - Σx) (N Σt²n - (Σtn)²)), every bracket
-- an exact whole number, so nothing cancels in floating point.
figures as (
    select
        *,
        case when years >= 2 and s_x > 0 and s_x < big_n and big_n * s_ttn - s_tn * s_tn > 0 then
            (big_n * s_tx - s_x * s_tn)::double * sqrt(big_n::double)
            / (sqrt((s_x * (big_n - s_x))::double) * sqrt((big_n * s_ttn - s_tn * s_tn)::double))
        end as z
    from sums
),

final as (
    select
        metric_id,
        cohort,
        first_year::bigint as first_year,
        last_year::bigint as last_year,
        years::bigint as years,
        z,
        normal_two_sided_p(z) as p_value
    from figures
)

select * from final
order by metric_id, cohort, last_year
