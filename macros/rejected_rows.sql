{#-
    The rejected rows of one source, in the shape of `slv_quality__rejects`: the rows its validated
    model gave a reason, plus the valid rows that silver did not keep because another row with the
    same key was kept (a duplicate delivery), with the position of the row that was kept. One scan
    of the validated view (a view over all of bronze, parsed again on every read), not one per kind.
-#}
{% macro rejected_rows(source_name, validated, silver, key) %}
    select
        '{{ source_name }}' as source_name,
        cast(candidate.{{ key }} as string) as record_key,
        coalesce(
            candidate.reject_reason,
            concat('duplicate: {{ key }} ', cast(candidate.{{ key }} as string), ' is kept from ', kept._record_position)
        ) as reject_reason,
        candidate._record_position as record_position,
        candidate._batch_id as batch_id,
        candidate._ingested_at as ingested_at,
        candidate._raw as raw_record
    from {{ validated }} as candidate
    left join {{ silver }} as kept
        on candidate.reject_reason is null and candidate.{{ key }} = kept.{{ key }}
    where
        candidate.reject_reason is not null
        or not (candidate._batch_id = kept._batch_id and candidate._record_position = kept._record_position)
{% endmacro %}
