"""The sensor that starts an ingestion when data arrives, and in the same run the dbt models it
reaches, so new data is on its way to gold with one run launch.

One sensor looks at every source: what arrives at once in several of them (a message burst and a
file export) goes into one run, so the gold they share is built once, not once per source one
after the other (dbt builds wait for each other in the `dbt` pool). What is pending comes from the
ingestion library, which reads the ledger (the one truth); the cursor only remembers which file
versions were already asked for, and the hash of each file by size and modification time (hashing
is the one slow step). While a run of the sensor is queued or running, the sensor waits: what
arrives meanwhile goes into the next run, instead of a queue of runs that would find nothing left
to read."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

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
from pyspark.sql import SparkSession

from ingestion.api import Batch, pending_files, read_batches_of, unread_offsets
from ingestion.errors import LakehouseError, first_line, service_lost
from ingestion.landing import LandingFile
from ingestion.plans import offsets_text
from ingestion.sources import SOURCES, Source
from orchestration.bronze.assets import bronze_key
from orchestration.bronze.resources import SparkResource

NAME = "bronze_follows_sources"

# A tick reads the ledger and each topic's end offsets (or each folder's sizes and times): cheap
# enough to look often, which is most of how soon new data starts its way to gold.
INTERVAL_S = 5

IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


@dataclass(frozen=True)
class Arrival:
    """What one source holds that bronze does not: new file versions, or unread offsets."""

    source: Source
    files: tuple[tuple[str, str], ...] = ()
    """(name, SHA-256) of each new or changed file version."""
    offsets: str = ""
    """The topic's unread offsets, as `offsets_text` says them."""

    @property
    def key(self) -> str:
        what = json.dumps(self.files) if self.files else self.offsets
        return f"{self.source.name}:{what}"


def _run_in_flight(context: SensorEvaluationContext) -> bool:
    runs = context.instance.get_runs(
        RunsFilter(tags={"dagster/sensor_name": context.sensor_name}, statuses=IN_FLIGHT), limit=1
    )
    return bool(runs)


def _new_files(spark: SparkSession, source: Source, ledger: list[Batch], cursor: dict) -> tuple[Arrival | None, dict]:
    """New file versions of a landing folder, and the source's next cursor."""
    known = {name: LandingFile(name, size, mtime, sha) for name, size, mtime, sha in cursor.get("files", [])}
    settled, pending = pending_files(spark, source, known=known, batches=ledger)
    asked = {tuple(pair) for pair in cursor.get("asked", [])}
    wanted = {(f.name, f.sha256) for f in pending}
    new = sorted(wanted - asked)
    state = {
        "files": [(f.name, f.size, f.mtime_ns, f.sha256) for f in settled],
        "asked": sorted(wanted & (asked | set(new))),  # forgets what was ingested or left
    }
    return (Arrival(source, files=tuple(new)) if new else None), state


def _new_messages(spark: SparkSession, source: Source, ledger: list[Batch]) -> Arrival | None:
    """Messages of a topic that bronze lacks (stateless: the ledger says what was planned)."""
    unread = unread_offsets(spark, source, batches=ledger)
    return Arrival(source, offsets=offsets_text(unread)) if unread else None


def _arrivals(
    context: SensorEvaluationContext, spark: SparkSession, sources: list[Source], cursor: dict
) -> tuple[list[Arrival], dict[str, dict]]:
    """What every source holds that bronze does not, and the next cursor. The ledger is read first,
    once for all sources (the slow part), then every folder and topic looked at in quick
    succession, so that a file and messages arriving together are seen by the same tick. A source
    whose folder or topic cannot be read waits for the next tick; the others go on."""
    try:
        ledgers = read_batches_of(spark, [source.name for source in sources])
    except LakehouseError as error:
        context.log.warning(f"the batch ledger cannot be read: {error}")
        return [], cursor
    next_cursor: dict[str, dict] = {}
    arrivals = []
    for source in sources:
        ledger, state = ledgers[source.name], cursor.get(source.name, {})
        try:
            if source.kind == "file":
                arrival, next_cursor[source.name] = _new_files(spark, source, ledger, state)
            else:
                arrival = _new_messages(spark, source, ledger)
        except LakehouseError as error:
            context.log.warning(f"{source.name}: {error}")
            next_cursor[source.name] = state
            continue
        if arrival:
            arrivals.append(arrival)
    return arrivals, next_cursor


def fed_by(sources: Iterable[Source]) -> AssetSelection:
    """The sources' bronze assets and the models downstream of them. Not what serves them
    (PostgreSQL): publishing follows gold by its own sensor, which a setting turns off."""
    return AssetSelection.assets(*(bronze_key(s) for s in sources)).downstream() - AssetSelection.groups("serving")


def _run_request(context: SensorEvaluationContext, arrivals: list[Arrival]) -> RunRequest:
    """One run: the arrivals' bronze assets and every model downstream of them."""
    selected = fed_by(a.source for a in arrivals).resolve(context.repository_def.asset_graph)
    files = ",".join(name for a in arrivals for name, _ in a.files)
    offsets = "; ".join(f"{a.source.topic} {a.offsets}" for a in arrivals if a.offsets)
    tags = {"lakehouse/sources": ",".join(a.source.name for a in arrivals)}
    tags |= {"lakehouse/files": files[:200]} if files else {}
    tags |= {"lakehouse/offsets": offsets[:200]} if offsets else {}
    run_key = hashlib.sha256("\n".join(a.key for a in arrivals).encode()).hexdigest()[:32]
    return RunRequest(run_key=run_key, asset_selection=sorted(selected), tags=tags)


def ingestion_sensor(sources: Iterable[Source], name: str = NAME) -> SensorDefinition:
    """A sensor whose runs ingest what arrived in `sources` and build every asset downstream of
    those that received something (staging, silver, gold), one run at a time."""
    sources = list(sources)

    @sensor(
        name=name,
        asset_selection=fed_by(sources),
        minimum_interval_seconds=INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "A run when files land or messages arrive: it ingests every source that received something and "
            "builds what their bronze tables feed, once for all of them."
        ),
    )
    def new_data(context: SensorEvaluationContext, spark: SparkResource):
        if _run_in_flight(context):
            return SkipReason("a run of this sensor is queued or running; what arrives waits for the next one")
        cursor = json.loads(context.cursor) if context.cursor else {}
        try:
            arrivals, next_cursor = _arrivals(context, spark.session(), sources, cursor)
        except service_lost() as error:  # a restart: the next tick opens a new session
            return SkipReason(f"the Spark server or Kafka did not answer ({first_line(error)}); next tick tries again")
        state = json.dumps({name: value for name, value in next_cursor.items() if value})
        if not arrivals:
            return SensorResult(skip_reason="no new file or message", cursor=state)
        for arrival in arrivals:
            news = ", ".join(n for n, _ in arrival.files) if arrival.files else f"offsets {arrival.offsets}"
            context.log.info(f"{arrival.source.name}: {news}")
        return SensorResult(run_requests=[_run_request(context, arrivals)], cursor=state)

    return new_data


sensors = [ingestion_sensor(SOURCES.values())]
