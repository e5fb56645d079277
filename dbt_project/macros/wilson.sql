{#- Wilson score interval without continuity correction (spec §8), 95%: z is the 97.5% normal quantile.
    Null when the denominator is 0. -#}
{% macro wilson_z() %}{{ z_975() }}{% endmacro %}

{% macro wilson_bound(successes, n, sign) -%}
    case when {{ n }} > 0 then
        (
            ({{ successes }}::double / {{ n }}) + {{ wilson_z() }}^2 / (2.0 * {{ n }})
            {{ sign }} {{ wilson_z() }} * sqrt(
                ({{ successes }}::double / {{ n }}) * (1 - {{ successes }}::double / {{ n }}) / {{ n }}
                + {{ wilson_z() }}^2 / (4.0 * {{ n }}::double * {{ n }})
            )
        ) / (1 + {{ wilson_z() }}^2 / {{ n }})
    end
{%- endmacro %}

{#- At x = 0 and x = n the bounds are exactly 0 and 1 in arithmetic, but floating point can land a
    hair outside [0, 1] (0.9999999999999999 < p = 1); clamp so that ci_low <= p <= ci_high holds. -#}
{% macro wilson_low(successes, n) -%}
    case when {{ n }} > 0 then
        greatest(0.0, least({{ wilson_bound(successes, n, '-') }}, {{ successes }}::double / {{ n }}))
    end
{%- endmacro %}

{% macro wilson_high(successes, n) -%}
    case when {{ n }} > 0 then
        least(1.0, greatest({{ wilson_bound(successes, n, '+') }}, {{ successes }}::double / {{ n }}))
    end
{%- endmacro %}
