{#-
    The rejected rows of one source, in the shape of `slv_quality__rejects`: the rows its validated
    model gave a reason, plus the valid rows that silver did not keep because another row with the
    same key was kept (a duplicate delivery), with the position of the row that was kept.
-#}
{% macro rejected_rows(source_name, validated, silver, key) %}
    select
        '{{ source_name }}' as source_name,
        cast(invalid.{{ key }} as string) as record_key,
        invalid.reject_reason,
        invalid._record_position as record_position,
        invalid._batch_id as batch_id,
        invalid._ingested_at as ingested_at,
        invalid._raw as raw_record
    from {{ validated }} as invalid
    where invalid.reject_reason is not null

    union all

    select
        '{{ source_name }}' as source_name,
        cast(duplicate.{{ key }} as string) as record_key,
        concat('duplicate: {{ key }} ', cast(duplicate.{{ key }} as string), ' is kept from ', kept._record_position)
            as reject_reason,
        duplicate._record_position as record_position,
        duplicate._batch_id as batch_id,
        duplicate._ingested_at as ingested_at,
        duplicate._raw as raw_record
    from {{ validated }} as duplicate
    inner join {{ silver }} as kept
        on duplicate.{{ key }} = kept.{{ key }}
    where
        duplicate.reject_reason is null
        and not (duplicate._batch_id = kept._batch_id and duplicate._record_position = kept._record_position)
{% endmacro %}
