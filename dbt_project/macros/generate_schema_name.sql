{#- Use the folder's schema as it is (marts, staging, intermediate), not prefixed by the target's:
    the marts schema is a public contract (spec §8) and must be called exactly `marts`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
