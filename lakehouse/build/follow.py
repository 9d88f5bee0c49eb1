"""Continuous mode without Dagster: keep bronze (and, with `build`, silver and gold) up to date
until stopped. Each round ingests what every source holds, exactly once as always, then builds
what the new bronze rows reach. Ctrl-C stops between batches; a second Ctrl-C stops at once
(safe too: exactly once holds under any interruption)."""

from __future__ import annotations

import logging
import signal
import threading
import time

from ingestion.api import Writers, ingest
from ingestion.errors import LakehouseError, first_line, service_lost
from ingestion.sources import Source
from ingestion.spark import connect
from lakehouse.build.dagster_instance import record_ingestion
from lakehouse.build.dbt import WarmDbt, build_what_changed

log = logging.getLogger(__name__)


def stop_on_ctrl_c() -> threading.Event:
    """An event set by the first Ctrl-C; the second one interrupts at once."""
    stop = threading.Event()

    def on_interrupt(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.info("stopping after the current batch (Ctrl-C again to stop now)")

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGTERM, on_interrupt)
    return stop


def ingest_round(sources: list[Source], stop: threading.Event, writers: Writers | None = None) -> list[Source]:
    """One pass over the sources; the sources that landed new batches. `writers`: kept from one
    round to the next (each source's ledger is read once, not every round)."""
    try:
        spark = connect()
    except LakehouseError as error:  # the Spark server is down: the next round looks again
        log.warning("%s", error.message)
        return []
    changed = []
    for source in sources:
        if stop.is_set():
            break
        try:
            batches = ingest(spark, source, stop=stop, writers=writers)
        except LakehouseError as error:  # e.g. Dagster is ingesting this source right now
            log.warning("%s: %s", source.name, error.message)
            continue
        except service_lost() as error:
            # Writers are kept per session; a batch cut short is recovered from its bronze
            # commit, or planned again, exactly once as always.
            log.warning("%s: %s; trying again next round", source.name, first_line(error))
            break
        if batches:
            record_ingestion(source, batches)
            changed.append(source)
    return changed


def follow(sources: list[Source], interval_s: float, build: bool, stop: threading.Event) -> None:
    log.info(
        "following %s every %.0fs%s; Ctrl-C stops",
        ", ".join(s.name for s in sources),
        interval_s,
        " (and building silver and gold)" if build else "",
    )
    writers, dbt = Writers(), WarmDbt()
    threading.Thread(target=check_alerts_until, args=(stop,), name="alerts", daemon=True).start()
    while not stop.is_set():
        started = time.monotonic()
        changed = ingest_round(sources, stop, writers)
        if build and changed and not stop.is_set():
            try:
                build_what_changed(dbt=dbt)
            except LakehouseError as error:  # tests failed: reported, and the next round goes on
                log.warning("%s", error)
            except service_lost() as error:
                log.warning("build: %s; trying again next round", first_line(error))
        stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    log.info("stopped")


ALERT_INTERVAL_S = 30


def check_alerts_until(stop: threading.Event) -> None:
    """What the Dagster sensor `alerts` does, for a lakehouse followed without Dagster: every 30 s,
    beside the rounds (a check takes seconds, which the rounds do not wait for)."""
    from lakehouse.operations.alerts import check

    while not stop.wait(ALERT_INTERVAL_S):
        try:
            checked = check(connect())
        except (LakehouseError, *service_lost()) as error:
            log.warning("alerts: %s; checking again in %ds", first_line(error), ALERT_INTERVAL_S)
            continue
        for alert in checked.raised:
            log.warning("alert raised: %s", alert.message)
        for alert in checked.resolved:
            log.info("alert resolved: %s", alert.message)
