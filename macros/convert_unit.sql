{#-
    A measured value expressed in another unit, or null when the two units do not convert into each
    other (the caller rejects the row then). Units are compared as written, ignoring case and spaces.
-#}
{% macro convert_unit(value, from_unit, to_unit) %}
    case
        when lower(replace({{ from_unit }}, ' ', '')) = lower(replace({{ to_unit }}, ' ', '')) then {{ value }}
        when lower({{ from_unit }}) in ('µg/l', 'ug/l') and lower({{ to_unit }}) = 'mg/l' then {{ value }} / 1000
        when lower({{ from_unit }}) = 'mg/l' and lower({{ to_unit }}) in ('µg/l', 'ug/l') then {{ value }} * 1000
        when lower({{ from_unit }}) = 'g/l' and lower({{ to_unit }}) = 'mg/l' then {{ value }} * 1000
        when {{ from_unit }} in ('°F', 'F') and {{ to_unit }} = '°C' then ({{ value }} - 32) * 5 / 9
        when {{ from_unit }} in ('K') and {{ to_unit }} = '°C' then {{ value }} - 273.15
    end
{% endmacro %}
