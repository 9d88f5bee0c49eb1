{#-
    Every bronze row that silver does not hold, with the reason: bronze = silver + rejects, per source.
    The list repeats the `meta` of the sources YAML because dbt needs every ref when it parses, before
    it reads that YAML; tests/models/test_sources_agree.py keeps the two equal.
-#}
{% set sources = [
    ('transactions', 'stg_transactions__order_lines', 'slv_commerce__transactions', 'transaction_id'),
    ('sales', 'stg_sales__sales', 'slv_commerce__sales', 'sale_id'),
    ('server_logs', 'stg_server_logs__requests', 'slv_web__requests', 'request_id'),
    ('social_posts', 'stg_social_posts__posts', 'slv_social__posts', 'post_id'),
    ('ad_events', 'stg_ad_events__events', 'slv_marketing__ad_events', 'event_id'),
    ('water_sites', 'stg_water_sites__sites', 'slv_water__sites', 'site_id'),
    ('water_methods', 'stg_water_methods__methods', 'slv_water__methods', 'method_id'),
    ('water_quality', 'stg_water_quality__measurements', 'slv_water__measurements', 'measurement_id'),
    ('device_events', 'stg_device_events__events', 'slv_devices__events', 'event_id'),
] %}

{% for source_name, validated, silver, key in sources %}
    {{ rejected_rows(source_name, ref(validated), ref(silver), key) }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
