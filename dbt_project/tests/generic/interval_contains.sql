{#- low <= estimate <= high wherever all three are present. -#}
{% test interval_contains(model, column_name, low, high) %}
select {{ column_name }}, {{ low }}, {{ high }}
from {{ model }}
where not ({{ low }} <= {{ column_name }} and {{ column_name }} <= {{ high }})
{% endtest %}
