{#- Every bronze row that silver does not hold, with the reason: bronze = silver + rejects, per source. -#}
{% set sources = [
    ('transactions', 'int_transactions_validated', 'slv_commerce__transactions', 'transaction_id'),
    ('sales', 'int_sales_validated', 'slv_commerce__sales', 'sale_id'),
    ('server_logs', 'int_server_logs_validated', 'slv_web__requests', 'request_id'),
    ('social_posts', 'int_social_posts_validated', 'slv_social__posts', 'post_id'),
    ('ad_events', 'int_ad_events_validated', 'slv_marketing__ad_events', 'event_id'),
    ('water_sites', 'int_water_sites_validated', 'slv_water__sites', 'site_id'),
    ('water_methods', 'int_water_methods_validated', 'slv_water__methods', 'method_id'),
    ('water_quality', 'int_water_quality_validated', 'slv_water__measurements', 'measurement_id'),
    ('device_events', 'int_device_events_validated', 'slv_devices__events', 'event_id'),
] %}

{% for source_name, validated, silver, key in sources %}
{{ rejected_rows(source_name, ref(validated), ref(silver), key) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
