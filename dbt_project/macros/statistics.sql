{#- Closed-form pieces of the statistics of spec §8 ("Methods, exactly") shared by the marts. The
    p-values are not closed form: the models call the DuckDB functions of pipelines/lib/stats/pvalues.py
    (fisher_exact_p, chi_square_p, welch_t_p, normal_two_sided_p), which dbt-duckdb registers on its
    connection (profiles.yml, plugins). -#}

{#- The 97.5% normal quantile, as spec §8 writes it: every 95% interval uses it. -#}
{% macro z_975() %}1.959963984540054{% endmacro %}

{#- Standardised difference of a binary characteristic as tableone computes it, signed group 1 minus
    group 2 in the share x/n: (p1 - p2) / sqrt((p1(1 - p1) + p2(1 - p2)) / 2). Null when a group is
    empty or both shares are 0 or 1 (no variance), which the counts tell exactly. -#}
{% macro smd_binary(x1, n1, x2, n2) -%}
    case
        when {{ n1 }} > 0 and {{ n2 }} > 0
            and {{ x1 }} * ({{ n1 }} - {{ x1 }}) + {{ x2 }} * ({{ n2 }} - {{ x2 }}) > 0
        then
            ({{ x1 }}::double / {{ n1 }} - {{ x2 }}::double / {{ n2 }}) / sqrt((
                {{ x1 }}::double / {{ n1 }} * (1 - {{ x1 }}::double / {{ n1 }})
                + {{ x2 }}::double / {{ n2 }} * (1 - {{ x2 }}::double / {{ n2 }})
            ) / 2)
    end
{%- endmacro %}
