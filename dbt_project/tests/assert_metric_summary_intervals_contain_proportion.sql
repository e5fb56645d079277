-- Every interval contains its proportion, and all three lie within 0..1 (or are all null for n = 0).
select *
from {{ ref('metric_summary') }}
where
    (denominator > 0 and not (0 <= ci_low and ci_low <= proportion and proportion <= ci_high and ci_high <= 1))
    or (denominator = 0 and (proportion is not null or ci_low is not null or ci_high is not null))
