"""Alerts: what is wrong now, said once when it starts and once when it clears.

Conditions, each evaluated from what the lakehouse itself keeps:
- `test_failed`: a dbt test (a Dagster asset check) whose latest result is fail or error (`ops.dbt_nodes`);
- `source_stale`: a source without a committed batch for longer than its freshness limit (the ledger);
- `bad_batch`: a source whose latest batch had more bad records than LAKEHOUSE_ALERT_BAD_SHARE, or was
  quarantined whole (the ledger);
- `run_failed`: a Dagster job whose latest run failed (the Dagster instance);
- `build_slow`: a dbt build slower than twice the median of the last builds of the same selection
  (`ops.dbt_builds`).

`check()` compares them with the open rows of `ops.alerts`: a new condition is appended (and POSTed
to LAKEHOUSE_ALERT_WEBHOOK as JSON, status `raised`), an open alert whose condition is gone gets its
`resolved_at` (and a POST, status `resolved`). A condition that holds on is neither stored nor sent
again. The Dagster sensor `alerts` checks every 30 seconds, as follow mode does beside its rounds;
`lakehouse alerts` checks once.
"""

from __future__ import annotations

import json
import logging
import statistics
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from ingestion.batch_status import BatchStatus
from ingestion.sources import SOURCES
from lakehouse.operations.records import BUILDS, NODES, TESTS, ensure_ops_tables, latest_batches
from lakehouse.serving.export import utc
from lakehouse.settings import settings

log = logging.getLogger(__name__)

ALERTS = "ops.alerts"
_COLUMNS = (
    "alert_id string, alert_key string, kind string, subject string, batch_id string, message string, "
    "raised_at timestamp, resolved_at timestamp"
)
SLOW_FACTOR = 2.0
SLOW_HISTORY = 10
"""A build is compared with the median of this many earlier builds of its selection (at least 3)."""


@dataclass(frozen=True)
class Condition:
    kind: str
    subject: str
    message: str
    batch_id: str | None = None

    @property
    def key(self) -> str:
        """One alert per kind and subject: a new bad batch of the same source is the same alert."""
        return f"{self.kind}:{self.subject}"


@dataclass(frozen=True)
class Alert:
    alert_id: str
    alert_key: str
    kind: str
    subject: str
    batch_id: str | None
    message: str
    raised_at: datetime
    resolved_at: datetime | None = None


@dataclass
class Checked:
    raised: list[Alert]
    resolved: list[Alert]
    still_open: list[Alert]


def check(spark: SparkSession, now: datetime | None = None) -> Checked:
    """Raise what is newly wrong, resolve what is right again, and tell the webhook of both."""
    now = now or datetime.now(UTC)
    ensure_alerts_table(spark)
    open_alerts = {alert.alert_key: alert for alert in open_alerts_now(spark)}
    conditions = {condition.key: condition for condition in conditions_now(spark, now)}
    raised = [
        Alert(str(uuid.uuid4()), key, c.kind, c.subject, c.batch_id, c.message, now)
        for key, c in conditions.items()
        if key not in open_alerts
    ]
    resolved = [
        Alert(**{**asdict(alert), "resolved_at": now}) for key, alert in open_alerts.items() if key not in conditions
    ]
    try:
        _store(spark, raised, resolved, now)
    except Exception as error:
        if "CONCURRENT" not in str(error).upper():
            raise
        # Another checker (follow mode beside the Dagster sensor) changed the alerts at the same moment:
        # Delta let one of the two commit; that one tells the webhook.
        log.info("alerts changed by another checker at the same time; looking again next time")
        return Checked([], [], list(open_alerts.values()))
    for alert in raised:
        _post("raised", alert)
    for alert in resolved:
        _post("resolved", alert)
    still = [alert for key, alert in open_alerts.items() if key in conditions]
    return Checked(raised, resolved, still)


def _store(spark: SparkSession, raised: list[Alert], resolved: list[Alert], now: datetime) -> None:
    """New alerts by a merge on the open ones, so that two checkers at once cannot raise one twice."""
    if raised:
        rows = [tuple(asdict(alert).values()) for alert in raised]
        spark.createDataFrame(rows, _COLUMNS).createOrReplaceTempView("raised_alerts")
        spark.sql(
            f"""merge into {ALERTS} as alerts using raised_alerts as raised
                on alerts.alert_key = raised.alert_key and alerts.resolved_at is null
                when not matched then insert *"""
        )
    if resolved:
        spark.sql(
            f"update {ALERTS} set resolved_at = :now where resolved_at is null and array_contains(:ids, alert_id)",
            args={"now": now, "ids": [alert.alert_id for alert in resolved]},
        )


def ensure_alerts_table(spark: SparkSession) -> None:
    ensure_ops_tables(spark)
    spark.sql(
        f"create table if not exists {ALERTS} ({_COLUMNS}) using delta "
        "comment 'Alerts: raised when a condition starts, resolved_at set when it clears'"
    )


def open_alerts_now(spark: SparkSession) -> list[Alert]:
    if not spark.catalog.tableExists(ALERTS):
        return []
    rows = spark.sql(f"select * from {ALERTS} where resolved_at is null order by raised_at").collect()
    return [Alert(**row.asDict()) for row in rows]


def conditions_now(spark: SparkSession, now: datetime) -> list[Condition]:
    latest = latest_batches(spark)  # read once for both conditions of the ledger
    return [
        *stale_sources(latest, now),
        *bad_batches(latest),
        *failed_tests(spark),
        *failed_runs(),
        *slow_builds(spark),
    ]


def stale_sources(latest: list, now: datetime) -> list[Condition]:
    stale = []
    for row in latest:
        source = SOURCES.get(row.source)
        if source is None or row.last_committed_at is None:
            continue
        minutes = (now - utc(row.last_committed_at)).total_seconds() / 60
        limit = source.freshness_limit_minutes
        if minutes > limit:
            stale.append(
                Condition(
                    "source_stale",
                    row.source,
                    f"{row.source}: no new batch for {_duration(minutes)} (its limit: {_duration(limit)})",
                )
            )
    return stale


def bad_batches(latest: list) -> list[Condition]:
    limit = settings().alert_bad_share
    bad = []
    for row in latest:
        good, rejected = row.rows_good or 0, row.rows_bad or 0
        share = rejected / (good + rejected) if good + rejected else 0.0
        if row.status == BatchStatus.QUARANTINED or share > limit:
            what = "was quarantined whole" if row.status == BatchStatus.QUARANTINED else "landed"
            bad.append(
                Condition(
                    "bad_batch",
                    row.source,
                    f"{row.source}: batch {row.batch_id} {what} with {rejected} bad records of {good + rejected} "
                    f"({share:.1%}; the limit is {limit:.0%})",
                    row.batch_id,
                )
            )
    return bad


def failed_tests(spark: SparkSession) -> list[Condition]:
    """Tests whose latest result, whatever build ran them, is a failure."""
    if not spark.catalog.tableExists(NODES):
        return []
    kinds = ", ".join(f"'{kind}'" for kind in TESTS)
    rows = spark.sql(
        f"""select name, status, failures, message from (
                select *, row_number() over (partition by unique_id order by finished_at desc) as recency
                from {NODES} where resource_type in ({kinds}))
            where recency = 1 and status in ('fail', 'error') order by name"""
    ).collect()
    return [
        Condition(
            "test_failed",
            row.name,
            f"dbt test {row.name} {'failed' if row.status == 'fail' else 'errored'}"
            + (f" on {row.failures} rows" if row.failures else "")
            + (f": {row.message.splitlines()[0][:200]}" if row.message and row.status == "error" else ""),
        )
        for row in rows
    ]


def failed_runs() -> list[Condition]:
    """Dagster jobs whose latest run failed (none when no Dagster instance was ever started here)."""
    if not (settings().home / "dagster" / "dagster.yaml").exists():
        return []
    from dagster import DagsterRunStatus

    from lakehouse.build.dagster_instance import latest_finished_runs

    return [
        Condition("run_failed", job, f"the latest run of the Dagster job {job} failed (run {run.run_id[:8]})")
        for job, run in sorted(latest_finished_runs().items())
        if run.status == DagsterRunStatus.FAILURE
    ]


def slow_builds(spark: SparkSession) -> list[Condition]:
    """The latest build of each selection, when it took more than twice the median of the ones before."""
    if not spark.catalog.tableExists(BUILDS):
        return []
    rows = spark.sql(
        f"""select selection, seconds, recency from (
                select selection, seconds, row_number() over (partition by selection order by finished_at desc) as recency
                from {BUILDS} where command = 'build')
            where recency <= {SLOW_HISTORY + 1}"""
    ).collect()
    history: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        history.setdefault(row.selection, []).append((row.recency, row.seconds))
    slow = []
    for selection, builds in sorted(history.items()):
        builds.sort()
        latest, before = builds[0][1], [seconds for _, seconds in builds[1:]]
        if len(before) < 3:
            continue
        median = statistics.median(before)
        if latest > SLOW_FACTOR * median:
            slow.append(
                Condition(
                    "build_slow",
                    selection,
                    f"dbt build of {selection} took {latest:.0f}s, over twice the median of the last "
                    f"{len(before)} ({median:.0f}s)",
                )
            )
    return slow


def _post(status: str, alert: Alert) -> None:
    url = settings().alert_webhook
    if not url:
        return
    body = {"status": status, **asdict(alert)}
    request = urllib.request.Request(
        url, data=json.dumps(body, default=_iso).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except OSError as error:
        log.warning("alert webhook %s did not take the %s alert %s: %s", url, status, alert.alert_key, error)


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    raise TypeError(type(value).__name__)


def _duration(minutes: float) -> str:
    if minutes >= 2 * 24 * 60:
        return f"{minutes / (24 * 60):.0f} days"
    if minutes >= 120:
        return f"{minutes / 60:.0f} h"
    return f"{minutes:.1f} min"
