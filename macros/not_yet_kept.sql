{#- In an incremental run, drop rows whose key silver already holds (a later copy is a duplicate). -#}
{% macro not_yet_kept(alias, key) %}
    {% if is_incremental() %}
        where not exists (select 1 from {{ this }} as kept where kept.{{ key }} = {{ alias }}.{{ key }})
    {% endif %}
{% endmacro %}
