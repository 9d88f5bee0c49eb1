"""Sensors ask for a run when new files or messages arrive, and never twice for the same data."""

import random

import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context

from ingestion.api import Options, ingest
from ingestion.sources import SOURCES, get_source
from lakehouse.samples import records as sample_data
from lakehouse.samples.producer import produce
from orchestration.bronze.resources import spark_resource
from orchestration.bronze.sensors import ingestion_sensor
from orchestration.definitions import defs
from tests.conftest import answering_session, lakehouse_cli, land, rows, xlsx_bytes


def _tick(sources: list[str], cursor: str | None, instance: DagsterInstance):
    """One tick of the ingestion sensor looking at `sources` only (the suite's other tests leave data
    in the other sources)."""
    watching = ingestion_sensor([get_source(name) for name in sources], name=f"watching_{'_'.join(sources)}")
    context = build_sensor_context(
        cursor=cursor,
        instance=instance,
        resources={"spark": spark_resource()},
        definitions=defs,
        sensor_name=watching.name,
    )
    return watching.evaluate_tick(context)


@pytest.fixture
def spark(spark_server):
    """A session per test here: a test restarts the Spark server, which ends the sessions opened
    before it, and the tests run in any order."""
    return answering_session()


def test_new_files_are_asked_for_once_per_version(spark_server, spark):
    source = get_source("water_methods")
    land(source.name, "methods_v1.xlsx", xlsx_bytes(sample_data.WATER_METHODS))
    ingest(spark, source, Options(settle_seconds=0))
    instance = DagsterInstance.ephemeral()

    first = _tick(["water_methods"], None, instance)
    assert first.run_requests == []  # the ledger already holds every file version there

    land(source.name, "methods_v2.xlsx", xlsx_bytes(sample_data.WATER_METHODS[:3]))
    second = _tick(["water_methods"], first.cursor, instance)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].tags["lakehouse/files"] == "methods_v2.xlsx"
    assert _tick(["water_methods"], second.cursor, instance).run_requests == []

    land(source.name, "methods_v2.xlsx", xlsx_bytes(sample_data.WATER_METHODS[:4]))  # changed under the same name
    third = _tick(["water_methods"], second.cursor, instance)
    assert len(third.run_requests) == 1
    assert third.run_requests[0].run_key != second.run_requests[0].run_key


def test_messages_are_asked_for_while_bronze_lacks_them(kafka, spark_server, spark):
    source = get_source("device_events")
    ingest(spark, source, Options())
    instance = DagsterInstance.ephemeral()
    assert _tick(["device_events"], None, instance).run_requests == []

    produce(
        source.topic, (sample_data.encode(m) for m in sample_data.device_events(random.Random(3), 50)), progress=False
    )
    asked = _tick(["device_events"], None, instance).run_requests
    assert len(asked) == 1 and asked[0].tags["lakehouse/offsets"].startswith("device_events p")
    assert _tick(["device_events"], None, instance).run_requests[0].run_key == asked[0].run_key

    ingest(spark, source, Options())
    assert _tick(["device_events"], None, instance).run_requests == []


def test_what_arrives_in_two_sources_at_once_is_one_run(kafka, spark_server, spark):
    """A file and messages seen by the same tick: one run ingests both and builds what either feeds,
    so the models both reach are built once."""
    files, topic = get_source("water_methods"), get_source("device_events")
    for source in (files, topic):
        ingest(spark, source, Options(settle_seconds=0))
    instance = DagsterInstance.ephemeral()
    land(files.name, "methods_v3.xlsx", xlsx_bytes(sample_data.WATER_METHODS[:2]))
    produce(
        topic.topic, (sample_data.encode(m) for m in sample_data.device_events(random.Random(5), 5)), progress=False
    )

    (request,) = _tick(["water_methods", "device_events"], None, instance).run_requests

    assert request.tags["lakehouse/sources"] == "water_methods,device_events"
    assert request.tags["lakehouse/files"] == "methods_v3.xlsx"
    selected = set(request.asset_selection)
    assert {AssetKey(["bronze", "water_methods"]), AssetKey(["bronze", "device_events"])} <= selected
    assert {AssetKey(["silver", "slv_water__methods"]), AssetKey(["silver", "slv_devices__events"])} <= selected
    assert AssetKey(["bronze", "sales"]) not in selected and AssetKey(["silver", "slv_commerce__sales"]) not in selected


def test_the_sensor_goes_on_across_a_restart_of_the_spark_server(kafka, spark_server, spark):
    """A tick during or right after the restart skips with a reason; the one after asks again."""
    source = get_source("device_events")
    ingest(spark, source, Options())
    instance = DagsterInstance.ephemeral()
    assert _tick(["device_events"], None, instance).run_requests == []

    for step in ("stop", "start"):
        assert lakehouse_cli("spark", step).returncode == 0
    produce(
        source.topic, (sample_data.encode(m) for m in sample_data.device_events(random.Random(4), 20)), progress=False
    )
    ticks = [_tick(["device_events"], None, instance) for _ in range(2)]

    assert [len(tick.run_requests) for tick in ticks] in ([1, 1], [0, 1])
    if not ticks[0].run_requests:
        assert "did not answer" in ticks[0].skip_message
    assert ticks[1].run_requests[0].tags["lakehouse/sources"] == "device_events"


def test_the_alerts_sensor_raises_a_failed_run_once_and_resolves_it_after_a_run_that_succeeds(
    spark_server, monkeypatch
):
    """Real runs of `maintain_tables` in the data home's Dagster instance (where `lakehouse ui` keeps them)."""
    from dagster import DagsterRunStatus

    for name in SOURCES:  # no source turns stale between two ticks
        monkeypatch.setenv(f"LAKEHOUSE_{name.upper()}_FRESHNESS_MINUTES", "1000000")

    from lakehouse.build.dagster_instance import dagster_home, fail_abandoned_runs
    from orchestration.operations.sensors import alerts

    instance = DagsterInstance.from_config(str(dagster_home()))
    # A UI that a test stopped hard (SIGKILL) may have left a run holding the dbt pool, which this
    # job's step needs: the next `lakehouse ui` would free it; this test runs the job in-process.
    fail_abandoned_runs()
    job = defs.resolve_job_def("maintain_tables")

    def run(tables: list[str]) -> DagsterRunStatus:
        config = {"ops": {"maintain_every_table": {"config": {"tables": tables}}}}
        return job.execute_in_process(run_config=config, instance=instance, raise_on_error=False).dagster_run.status

    def tick() -> str:
        context = build_sensor_context(instance=instance, resources={"spark": spark_resource()}, definitions=defs)
        return alerts.evaluate_tick(context).skip_message

    from ingestion.tables import ensure_tables

    spark = answering_session()  # a test before this one may have restarted the server
    ensure_tables(spark, get_source("device_events"))  # the ledger the successful run maintains, when run alone
    tick()  # what was already wrong before this test is raised here
    assert run(["bronze.no_such_table"]) == DagsterRunStatus.FAILURE
    assert tick().startswith("1 raised, 0 resolved")
    open_alerts = rows(
        spark, "select message from ops.alerts where alert_key = 'run_failed:maintain_tables' and resolved_at is null"
    )
    assert len(open_alerts) == 1 and open_alerts[0][0].startswith(
        "the latest run of the Dagster job maintain_tables failed"
    )
    assert tick().startswith("0 raised, 0 resolved")  # once, however long it lasts
    assert run(["bronze.ingestion_batch_events"]) == DagsterRunStatus.SUCCESS
    assert tick().startswith("0 raised, 1 resolved")
    assert rows(
        spark, "select count(*) from ops.alerts where alert_key = 'run_failed:maintain_tables' and resolved_at is null"
    ) == [(0,)]
