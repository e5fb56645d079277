{#- Per-year work (spec issue 4): Dagster passes the survey year being (re)loaded as the var
    survey_year. Per-year models read only that year's rows, and their pre-hook (dbt_project.yml)
    deletes that year before the new rows are appended; the other years stay as they are. Without the
    var (a plain `dbt build`) every year is rebuilt. -#}
{% macro for_survey_year(column='survey_year') -%}
    {%- if var('survey_year', none) is not none -%}
        {{ column }} = {{ var('survey_year') | int }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro delete_survey_year() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        {%- if var('survey_year', none) is not none %} where survey_year = {{ var('survey_year') | int }}{% endif %}
    {%- endif -%}
{%- endmacro %}
