{#- generated from schemas/codebook.yaml by `make codebook`; do not edit. -#}

{#- The variables behind the metrics of metric_summary and item_distributions, in codebook order. -#}
{% macro codebook_metric_variables() %}{{ return(["value_distinct", "value_mentee", "value_mentor", "mentor_again", "mentor_worthwhile", "mentor_prepared"]) }}{% endmacro %}

{#- The free-text variables: kept in raw.responses (contacts masked), never selected beyond it (spec §6). -#}
{% macro codebook_text_variables() %}{{ return(["specialty_other_text", "nonpart_other_text", "comments"]) }}{% endmacro %}

{#- The two cohorts the comparisons set against each other (spec §7). -#}
{% macro codebook_compared_cohorts() %}{{ return(["mentor", "non_mentor"]) }}{% endmacro %}

{#- The column prefix of each multi-select breakdown (one true/false column per answer). -#}
{% macro codebook_breakdown_prefix(name) %}{{ return({"nonpart_reasons": "nonpart_reason_"}[name]) }}{% endmacro %}

{#- The demographic characteristics: name, the column of the cohort tables that holds it, whether it
    is a number (mean and SD) rather than categories (counts per level, seed characteristic_levels), and
    the levels its test compares (demographic_balance). -#}
{% macro codebook_characteristics() %}{{ return([{"name": "gender", "column": "gender", "numeric": false, "tested": ["female", "male"]}, {"name": "age", "column": "age", "numeric": true, "tested": []}, {"name": "specialty_group", "column": "specialty_group", "numeric": false, "tested": ["primary_care", "surgical", "other"]}]) }}{% endmacro %}

{#- The cohort of spec §7: the codebook's rules in order, the first that holds. -#}
{% macro codebook_cohort() -%}
    case
        when mentor_formal = 'yes' then 'mentor'
        when mentor_formal = 'no' and mentor_informal = 'no' then 'non_mentor'
        when mentor_formal = 'no' and mentor_informal = 'yes' then 'informal'
        else 'unclassified'
    end
{%- endmacro %}
