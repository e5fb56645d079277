{#- Wilson score interval without continuity correction (spec §8), 95%: z is the 97.5% normal quantile.
    Null when the denominator is 0. -#}
{% macro wilson_z() %}1.959963984540054{% endmacro %}

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

{% macro wilson_low(successes, n) %}{{ wilson_bound(successes, n, '-') }}{% endmacro %}
{% macro wilson_high(successes, n) %}{{ wilson_bound(successes, n, '+') }}{% endmacro %}
