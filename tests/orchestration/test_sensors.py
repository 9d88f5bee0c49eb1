"""Sensors ask for a run when new files or messages arrive, and never twice for the same data."""

import random

from dagster import DagsterInstance, build_sensor_context

from ingestion.api import Options, ingest
from ingestion.sources import get_source
from lakehouse import sample_data
from lakehouse.producer import produce
from orchestration.bronze.resources import spark_resource
from orchestration.bronze.sensors import sensors
from orchestration.definitions import defs
from tests.conftest import lakehouse_cli, land, xlsx_bytes

SENSORS = {sensor.name: sensor for sensor in sensors}


def _tick(sensor_name: str, cursor: str | None, instance: DagsterInstance):
    context = build_sensor_context(
        cursor=cursor,
        instance=instance,
        resources={"spark": spark_resource()},
        definitions=defs,
        sensor_name=sensor_name,
    )
    return SENSORS[sensor_name].evaluate_tick(context)


def test_landing_sensor_asks_once_per_new_file_version(spark_server, spark):
    source = get_source("water_methods")
    land(source.name, "methods_v1.xlsx", xlsx_bytes(sample_data.WATER_METHODS))
    ingest(spark, source, Options(settle_seconds=0))
    instance = DagsterInstance.ephemeral()

    first = _tick("water_methods_landing_files", None, instance)
    assert first.run_requests == []  # the ledger already holds every file version there

    land(source.name, "methods_v2.xlsx", xlsx_bytes(sample_data.WATER_METHODS[:3]))
    second = _tick("water_methods_landing_files", first.cursor, instance)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].tags["lakehouse/files"] == "methods_v2.xlsx"
    assert _tick("water_methods_landing_files", second.cursor, instance).run_requests == []

    land(source.name, "methods_v2.xlsx", xlsx_bytes(sample_data.WATER_METHODS[:4]))  # changed under the same name
    third = _tick("water_methods_landing_files", second.cursor, instance)
    assert len(third.run_requests) == 1
    assert third.run_requests[0].run_key != second.run_requests[0].run_key


def test_topic_sensor_asks_while_bronze_lacks_messages(kafka, spark_server, spark):
    source = get_source("device_events")
    ingest(spark, source, Options())
    instance = DagsterInstance.ephemeral()
    assert _tick("device_events_topic_messages", None, instance).run_requests == []

    produce(
        source.topic, (sample_data.encode(m) for m in sample_data.device_events(random.Random(3), 50)), progress=False
    )
    asked = _tick("device_events_topic_messages", None, instance).run_requests
    assert len(asked) == 1 and asked[0].run_key.startswith("device_events:")
    assert _tick("device_events_topic_messages", None, instance).run_requests[0].run_key == asked[0].run_key

    ingest(spark, source, Options())
    assert _tick("device_events_topic_messages", None, instance).run_requests == []


def test_the_topic_sensor_goes_on_across_a_restart_of_the_spark_server(kafka, spark_server, spark):
    """A tick during or right after the restart skips with a reason; the one after asks again."""
    source = get_source("device_events")
    ingest(spark, source, Options())
    instance = DagsterInstance.ephemeral()
    assert _tick("device_events_topic_messages", None, instance).run_requests == []

    for step in ("stop", "start"):
        assert lakehouse_cli("spark", step).returncode == 0
    produce(
        source.topic, (sample_data.encode(m) for m in sample_data.device_events(random.Random(4), 20)), progress=False
    )
    ticks = [_tick("device_events_topic_messages", None, instance) for _ in range(2)]

    assert [len(tick.run_requests) for tick in ticks] in ([1, 1], [0, 1])
    if not ticks[0].run_requests:
        assert "did not answer" in ticks[0].skip_message
    assert ticks[1].run_requests[0].run_key.startswith("device_events:")
