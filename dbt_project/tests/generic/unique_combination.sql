{#- The grain of a model: no two rows share these columns (dbt_utils has this, but dbt packages cannot
    be downloaded here). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_with_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
