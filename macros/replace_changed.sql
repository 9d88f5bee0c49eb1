{#-
    Gold follows silver by the keys a build changed, not by rebuilding whole tables.

    A gold model lists, under `meta.changes_from`, each table it reads and how a changed row of that
    table names rows of the model: `{model column: expression over the upstream row}`. Silver, gold
    and seeds keep a change data feed, so the rows an upstream changed since the model last looked
    (inserted, updated — old and new image — or deleted, e.g. by a rollback) give the keys to
    recompute; `insert into ... replace where <those keys>` then swaps exactly their rows, in one
    Delta commit. The model's SQL stays the full computation: Spark pushes the key filter into it.

    Which upstream versions a model has absorbed travels in the metadata of its own commit
    (`record_upstream_versions`, a pre-hook), so nothing else is written. The model is recomputed
    whole — still one commit — when it has no such record, when an upstream was replaced or has no
    change data feed, or when more than `max_changed_keys` (100) keys changed: a micro-batch touches
    a few dozen, and a predicate of 2,000 keys sent Spark's code generator past its limits (the
    server died on a full build of the test data).
-#}

{% macro replace_changed_sql(source, target) %}
    {%- set columns = adapter.get_columns_in_relation(target) -%}
    {%- set column_list = columns | map(attribute='name') | join(', ') -%}
    {%- set scope = changed_scope(target, columns) -%}
    {%- if scope is none -%}
        insert overwrite table {{ target }} select {{ column_list }} from {{ source }}
    {%- elif scope == 'false' -%}
        {{ log(target ~ ": no upstream row changed", info=false) }}
        select 'nothing changed' as outcome
    {%- else -%}
        insert into {{ target }} replace where {{ scope }}
        select {{ column_list }} from {{ source }} where {{ scope }}
    {%- endif -%}
{% endmacro %}


{#- Pre-hook: every commit of this build of the model records the upstream versions it reads. -#}
{% macro record_upstream_versions() %}
    {%- if execute and config.get('incremental_strategy') == 'replace_changed' -%}
        {%- set versions = {} -%}
        {%- for name in changes_from() -%}
            {%- do versions.update({name: latest_version(ref(name))}) -%}
        {%- endfor -%}
        set spark.databricks.delta.commitInfo.userMetadata = {{ tojson({'lakehouse_upstream_versions': versions}) }}
    {%- endif -%}
{% endmacro %}

{#- Post-hook: the session's next commits (another model on this connection) carry no record. -#}
{% macro forget_upstream_versions() %}
    {%- if execute and config.get('incremental_strategy') == 'replace_changed' -%}
        reset spark.databricks.delta.commitInfo.userMetadata
    {%- endif -%}
{% endmacro %}


{% macro changes_from() %}
    {{ return(config.get('meta', {}).get('changes_from', {})) }}
{% endmacro %}


{% macro latest_version(relation) %}
    {{ return(run_query('describe history ' ~ relation ~ ' limit 1').columns[0].values()[0] | int) }}
{% endmacro %}


{#- The upstream versions the model's latest recorded build read (none when no commit says). -#}
{% macro absorbed_versions(relation) %}
    {%- for metadata in run_query('describe history ' ~ relation ~ ' limit 50').columns['userMetadata'].values() -%}
        {%- if metadata and 'lakehouse_upstream_versions' in metadata -%}
            {{ return(fromjson(metadata)['lakehouse_upstream_versions']) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{#- The upstream versions this build reads: what the pre-hook put in the session. -#}
{% macro versions_being_read() %}
    {%- set value = run_query('set spark.databricks.delta.commitInfo.userMetadata').columns[1].values()[0] -%}
    {{ return(fromjson(value)['lakehouse_upstream_versions']) }}
{% endmacro %}


{#-
    A predicate over the target's columns selecting every row an upstream change can have touched;
    'false' when nothing changed, none when the model must be recomputed whole.
-#}
{% macro changed_scope(target, columns) %}
    {%- set absorbed = absorbed_versions(target) -%}
    {%- if absorbed is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set reading = versions_being_read() -%}
    {%- set types = {} -%}
    {%- for column in columns -%}
        {%- do types.update({column.name: column.data_type}) -%}
    {%- endfor -%}
    {%- set clauses = [] -%}
    {%- set max_keys = var('max_changed_keys', 100) -%}
    {%- for name, mapping in changes_from().items() -%}
        {%- set upstream = ref(name) -%}
        {%- set since = absorbed.get(name) -%}
        {%- set until = reading[name] -%}
        {%- if since is none or not readable_changes(upstream, since, until) -%}
            {{ return(none) }}
        {%- endif -%}
        {%- if until > since -%}
            {%- set keys = changed_keys(upstream, mapping, since + 1, until, max_keys + 1) -%}
            {%- if keys | length > max_keys -%}
                {{ log(target ~ ": over " ~ max_keys ~ " keys changed in " ~ upstream ~ ", recomputed whole", info=true) }}
                {{ return(none) }}
            {%- endif -%}
            {%- for key in keys -%}
                {%- set terms = [] -%}
                {%- for column in mapping -%}
                    {%- do terms.append(key_term(column, key[loop.index0], types[column])) -%}
                {%- endfor -%}
                {%- do clauses.append('(' ~ terms | join(' and ') ~ ')') -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if clauses | length > max_keys -%}
        {{ log(target ~ ": over " ~ max_keys ~ " keys changed, recomputed whole", info=true) }}
        {{ return(none) }}
    {%- endif -%}
    {{ return('(' ~ clauses | join(' or ') ~ ')' if clauses else 'false') }}
{% endmacro %}


{#- Whether versions (since, until] of an upstream can be read as changes: not replaced nor vacuumed, change feed on. -#}
{% macro readable_changes(upstream, since, until) %}
    {%- if until < since -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if until == since -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set feed = run_query("show tblproperties " ~ upstream ~ " ('delta.enableChangeDataFeed')").columns[1].values()[0] -%}
    {%- if feed != 'true' -%}
        {{ log(upstream ~ " has no change data feed: its readers are recomputed whole", info=true) }}
        {{ return(false) }}
    {%- endif -%}
    {%- set history = run_query('describe history ' ~ upstream ~ ' limit ' ~ (until - since)) -%}
    {%- set versions = history.columns['version'].values() | map('int') | list -%}
    {%- if (versions | min) > since + 1 -%}
        {{ return(false) }}
    {%- endif -%}
    {#- A VACUUM since (`lakehouse maintain` logs it) may have removed the change files of those versions. -#}
    {%- for operation in history.columns['operation'].values() -%}
        {%- if 'CREATE' in operation or 'REPLACE' in operation or 'VACUUM' in operation -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{% endmacro %}


{#- The distinct keys (as text, prefixed so that agate keeps them text) an upstream's changes name. -#}
{% macro changed_keys(upstream, mapping, first, last, limit) %}
    {%- set expressions = [] -%}
    {%- for column, expression in mapping.items() -%}
        {%- do expressions.append("concat('k', cast(" ~ expression ~ " as string)) as " ~ column) -%}
    {%- endfor -%}
    {%- set query -%}
        select distinct {{ expressions | join(', ') }}
        from table_changes('{{ upstream }}', {{ first }}, {{ last }})
        limit {{ limit }}
    {%- endset -%}
    {{ return(run_query(query).rows) }}
{% endmacro %}


{% macro key_term(column, value, data_type) %}
    {%- if value is none -%}
        {{ return(column ~ ' is null') }}
    {%- endif -%}
    {%- set text = value[1:] | replace('\\', '\\\\') | replace("'", "\\'") -%}
    {{ return(column ~ " = cast('" ~ text ~ "' as " ~ data_type ~ ")") }}
{% endmacro %}


{#- dbt-spark knows its four strategies only; these two let it take `replace_changed` as well. -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy == 'replace_changed' and file_format == 'delta' -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{% endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy == 'replace_changed' -%}
        {{ return(replace_changed_sql(source, target)) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates)) }}
{% endmacro %}
