{#-
    The mean of a double column rounded half up to `digits` decimals, the same whatever order the rows
    arrive in (a sum of doubles is not). Each value is taken at 12 decimals first: far below `digits`,
    so the mean is not rounded twice (values converted from µg/L carry 7 decimals).
-#}
{% macro exact_mean(column, digits) %}
    round(avg(cast({{ column }} as decimal(38, 12))), {{ digits }})
{%- endmacro %}
