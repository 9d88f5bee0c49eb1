"""Sensors that start an ingestion when data arrives. What is pending comes from the ingestion
library, which reads the ledger (the one truth); the cursor only remembers what was already asked
for, and the hash of each file by size and modification time (hashing is the one slow step)."""

import hashlib
import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ingestion.api import pending_files, unread_offsets
from ingestion.errors import LakehouseError
from ingestion.landing import LandingFile, landing_folder
from ingestion.plans import offsets_text
from ingestion.sources import SOURCES, Source
from orchestration.bronze.assets import bronze_key
from orchestration.bronze.resources import SparkResource

# A tick reads the ledger and the topic's end offsets (or the folder's sizes and times): cheap
# enough to look often, which is most of how soon new data starts its way to gold.
INTERVAL_S = 5


def _known_files(source: Source, cursor: dict) -> dict[str, LandingFile]:
    folder = landing_folder(source)
    return {
        name: LandingFile(name, folder / name, size, mtime, sha) for name, size, mtime, sha in cursor.get("files", [])
    }


def landing_sensor(source: Source) -> SensorDefinition:
    @sensor(
        name=f"{source.name}_landing_files",
        asset_selection=[bronze_key(source)],
        minimum_interval_seconds=INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"A run of bronze/{source.name} for every new or changed set of files in its landing folder.",
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
    @sensor(
        name=f"{source.topic}_topic_messages",
        asset_selection=[bronze_key(source)],
        minimum_interval_seconds=INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"A run of bronze/{source.name} when topic {source.topic} holds messages the ledger does not.",
    )
    def new_messages(context: SensorEvaluationContext, spark: SparkResource):
        try:
            unread = unread_offsets(spark.session(), source)
        except LakehouseError as error:
            return SkipReason(str(error))
        if not unread:
            return SkipReason(f"bronze holds every message of {source.topic}")
        ranges = offsets_text(unread)
        return RunRequest(run_key=f"{source.topic}:{ranges}", tags={"lakehouse/offsets": ranges[:200]})

    return new_messages


sensors = [landing_sensor(s) if s.kind == "file" else topic_sensor(s) for s in SOURCES.values()]
