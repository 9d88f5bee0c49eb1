"""Sensors that start an ingestion when data arrives, and in the same run the dbt models it reaches,
so new data is on its way to gold with one run launch. What is pending comes from the ingestion
library, which reads the ledger (the one truth); the cursor only remembers what was already asked
for, and the hash of each file by size and modification time (hashing is the one slow step). While
a run of a sensor is queued or running, the sensor waits: what arrives meanwhile goes into the next
run, instead of a queue of runs that would find nothing left to read."""

import hashlib
import json

from dagster import (
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ingestion.api import pending_files, unread_offsets
from ingestion.errors import LakehouseError, first_line, service_lost
from ingestion.landing import LandingFile
from ingestion.plans import offsets_text
from ingestion.sources import SOURCES, Source
from orchestration.bronze.assets import bronze_key
from orchestration.bronze.resources import SparkResource

# A tick reads the ledger and the topic's end offsets (or the folder's sizes and times): cheap
# enough to look often, which is most of how soon new data starts its way to gold.
INTERVAL_S = 5


IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def _run_in_flight(context: SensorEvaluationContext) -> bool:
    runs = context.instance.get_runs(
        RunsFilter(tags={"dagster/sensor_name": context.sensor_name}, statuses=IN_FLIGHT), limit=1
    )
    return bool(runs)


def _ingestion_sensor(source: Source, name: str, description: str):
    """A sensor whose runs ingest the source and build every asset downstream of it (staging,
    silver, gold), one run at a time."""
    launch = sensor(
        name=name,
        asset_selection=AssetSelection.assets(bronze_key(source)).downstream(),
        minimum_interval_seconds=INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"{description} The run also builds what bronze/{source.name} feeds.",
    )

    def decorate(evaluate):
        def evaluate_unless_in_flight(context: SensorEvaluationContext, spark: SparkResource):
            if _run_in_flight(context):
                return SkipReason("a run of this sensor is queued or running; what arrives waits for the next one")
            try:
                return evaluate(context, spark)
            except service_lost() as error:  # a restart: the next tick opens a new session
                return SkipReason(
                    f"the Spark server or Kafka did not answer ({first_line(error)}); next tick tries again"
                )

        return launch(evaluate_unless_in_flight)

    return decorate


def _known_files(source: Source, cursor: dict) -> dict[str, LandingFile]:
    return {name: LandingFile(name, size, mtime, sha) for name, size, mtime, sha in cursor.get("files", [])}


def landing_sensor(source: Source) -> SensorDefinition:
    @_ingestion_sensor(
        source,
        f"{source.name}_landing_files",
        f"A run of bronze/{source.name} for every new or changed set of files in its landing folder.",
    )
    def new_files(context: SensorEvaluationContext, spark: SparkResource):
        cursor = json.loads(context.cursor) if context.cursor else {}
        try:
            settled, pending = pending_files(spark.session(), source, known=_known_files(source, cursor))
        except LakehouseError as error:
            return SkipReason(f"cannot read the batch ledger: {error}")
        asked = {tuple(pair) for pair in cursor.get("asked", [])}
        wanted = {(f.name, f.sha256) for f in pending}
        new = sorted(wanted - asked)
        next_cursor = json.dumps(
            {
                "files": [(f.name, f.size, f.mtime_ns, f.sha256) for f in settled],
                "asked": sorted(wanted & (asked | set(new))),  # forgets what was ingested or left
            }
        )
        if not new:
            return SensorResult(skip_reason="no new or changed file", cursor=next_cursor)
        run_key = hashlib.sha256(json.dumps(new).encode()).hexdigest()[:32]
        context.log.info(f"{source.name}: new file versions {', '.join(name for name, _ in new)}")
        return SensorResult(
            run_requests=[RunRequest(run_key=run_key, tags={"lakehouse/files": ",".join(n for n, _ in new)[:200]})],
            cursor=next_cursor,
        )

    return new_files


def topic_sensor(source: Source) -> SensorDefinition:
    @_ingestion_sensor(
        source,
        f"{source.topic}_topic_messages",
        f"A run of bronze/{source.name} when topic {source.topic} holds messages the ledger does not.",
    )
    def new_messages(context: SensorEvaluationContext, spark: SparkResource):
        try:
            unread = unread_offsets(spark.session(), source)
        except LakehouseError as error:
            return SkipReason(str(error))
        if not unread:
            return SkipReason(f"bronze holds every message of {source.topic}")
        ranges = offsets_text(unread)
        return RunRequest(
            run_key=f"{source.topic}:{ranges}",
            tags={"lakehouse/offsets": ranges[:200]},
        )

    return new_messages


sensors = [landing_sensor(s) if s.kind == "file" else topic_sensor(s) for s in SOURCES.values()]
