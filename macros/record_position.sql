{#- Where a bronze row came from, readable: `file:line` or `topic/partition@offset`. -#}
{% macro record_position(kind) %}
    {%- if kind == 'file' -%}
        concat(_source_file, ':', cast(_source_line as string))
    {%- else -%}
        concat(_kafka_topic, '/', cast(_kafka_partition as string), '@', cast(_kafka_offset as string))
    {%- endif -%}
{% endmacro %}
