"""Jobs, the daily schedule, and the sensors that start ingestion when data arrives.

Sensors only look (file sizes and times, Kafka offsets); hashing a new file is the one slow step,
and each file is hashed once (the cursor remembers its hash by size and modification time).
"""

import hashlib
import json
import time

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from ingestion.config import settings
from ingestion.engine import file_sha256, landing_files
from ingestion.errors import LakehouseError
from ingestion.sources import SOURCES, Source
from orchestration.bronze import bronze_key
from orchestration.resources import KafkaBroker, SparkServer
from orchestration.transform import lakehouse_dbt_models

LAYERS = AssetSelection.groups("bronze", "reference", "silver", "gold")
DBT_MODELS = AssetSelection.assets(lakehouse_dbt_models)

ingest_everything = define_asset_job(
    "ingest_everything", selection=AssetSelection.groups("bronze"), description="Every source into bronze."
)
transform_everything = define_asset_job(
    "transform_everything", selection=DBT_MODELS, description="dbt build: seeds, silver, gold and their tests."
)
full_refresh = define_asset_job(
    "full_refresh",
    selection=DBT_MODELS,
    config={"ops": {lakehouse_dbt_models.op.name: {"config": {"full_refresh": True}}}},
    description="dbt build --full-refresh: incremental models rebuilt from bronze.",
)
build_everything = define_asset_job(
    "build_everything", selection=LAYERS, description="Ingest every source, then build every layer."
)
daily_build = ScheduleDefinition(
    name="daily_build", job=build_everything, cron_schedule="0 2 * * *", default_status=DefaultScheduleStatus.RUNNING
)
silver_and_gold_follow_bronze = AutomationConditionSensorDefinition(
    "silver_and_gold_follow_bronze",
    target=DBT_MODELS,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)


def settled_files(source: Source) -> dict[str, tuple[int, int]]:
    """Files of the source's landing folder that stopped changing: name -> (size, mtime in ns)."""
    now = time.time()
    found = {}
    for name, path in landing_files(source):
        stat = path.stat()
        if now - stat.st_mtime >= settings().ingest_settle_seconds:
            found[name] = (stat.st_size, stat.st_mtime_ns)
    return found


def ingested_versions(spark: SparkServer, source: Source) -> set[tuple[str, str]]:
    """(file, sha256) of every file version the ledger holds or is working on."""
    from ingestion.ledger import batches

    with spark.session() as session:
        return {(b.plan["file"], b.plan["sha256"]) for b in batches(session, source.name) if b.status != "abandoned"}


def landing_sensor(source: Source) -> SensorDefinition:
    @sensor(
        name=f"{source.name}_landing_files",
        asset_selection=[bronze_key(source)],
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"A run of bronze/{source.name} for every new or changed set of files in its landing folder.",
    )
    def new_files(context: SensorEvaluationContext, spark: SparkServer):
        state = json.loads(context.cursor) if context.cursor else None
        known_hashes = {name: (size, mtime, sha) for name, size, mtime, sha in (state or {}).get("files", [])}
        files = []
        for name, (size, mtime) in settled_files(source).items():
            cached = known_hashes.get(name)
            sha = (
                cached[2]
                if cached and cached[:2] == (size, mtime)
                else file_sha256(settings().landing_dir / source.name / name)
            )
            files.append((name, size, mtime, sha))
        if state is None:  # first tick: what the ledger already holds is not new
            try:
                requested = ingested_versions(spark, source)
            except LakehouseError as error:
                return SkipReason(f"cannot read the batch ledger yet: {error}")
        else:
            requested = {tuple(pair) for pair in state["requested"]}
        present = {(name, sha) for name, _, _, sha in files}
        new = sorted(present - requested)
        cursor = json.dumps({"files": files, "requested": sorted(present)})  # forgets files that left
        if not new:
            return SensorResult(skip_reason="no new or changed file", cursor=cursor)
        run_key = hashlib.sha256(json.dumps(new).encode()).hexdigest()[:32]
        context.log.info(f"{source.name}: new file versions {', '.join(name for name, _ in new)}")
        return SensorResult(
            run_requests=[RunRequest(run_key=run_key, tags={"lakehouse/files": ",".join(n for n, _ in new)[:200]})],
            cursor=cursor,
        )

    return new_files


def topic_sensor(source: Source) -> SensorDefinition:
    @sensor(
        name=f"{source.topic}_topic_messages",
        asset_selection=[bronze_key(source)],
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"A run of bronze/{source.name} when topic {source.topic} holds messages bronze does not.",
    )
    def new_messages(context: SensorEvaluationContext, kafka: KafkaBroker):
        try:
            unread = kafka.unread_offsets(source)
        except LakehouseError as error:
            return SkipReason(str(error))
        if not unread:
            return SkipReason(f"bronze holds every message of {source.topic}")
        ranges = ",".join(f"p{partition}:{start}-{end}" for partition, (start, end) in sorted(unread.items()))
        return RunRequest(run_key=f"{source.topic}:{ranges}", tags={"lakehouse/offsets": ranges[:200]})

    return new_messages


sensors = [landing_sensor(s) if s.kind == "file" else topic_sensor(s) for s in SOURCES.values()]

defs = Definitions(
    jobs=[ingest_everything, transform_everything, full_refresh, build_everything],
    schedules=[daily_build],
    sensors=[*sensors, silver_and_gold_follow_bronze],
)
