"""`lakehouse`: start and stop the local services, run the main job, open SQL and docs."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ingestion.batch_status import BatchStatus
from ingestion.config import PROJECT_ROOT
from ingestion.errors import LakehouseError
from ingestion.sources import SOURCES, Source, get_source
from lakehouse.build.dbt import build_what_changed, run_dbt
from lakehouse.services.hdfs import hadoop_bundle, hdfs_services
from lakehouse.services.jars import ensure_jars, kafka_bundle, s3a_bundle, spark_server_bundle
from lakehouse.services.kafka import KafkaBroker, kafka_brokers
from lakehouse.services.postgres import PostgresServer
from lakehouse.services.processes import run_in_own_group
from lakehouse.services.seaweedfs import SeaweedS3
from lakehouse.services.service import Service
from lakehouse.services.spark_cluster import SparkMaster, spark_workers
from lakehouse.services.spark_server import SparkServer, spark_home
from lakehouse.settings import settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def services() -> list[Service]:
    """The services `lakehouse up` starts, in order (cluster mode: see Settings.mode)."""
    s = settings()
    object_store = [SeaweedS3(s)] if s.serves_s3 else []
    if s.mode == "cluster":
        return [
            PostgresServer(s),
            *hdfs_services(s),
            *object_store,
            *kafka_brokers(s),
            SparkMaster(s),
            *spark_workers(s),
            SparkServer(s),
        ]
    return [*kafka_brokers(s), *object_store, SparkServer(s)]


def all_services() -> list[Service]:
    """Also PostgreSQL in local mode, which is started when gold is first published to it."""
    started = services()
    return started if any(isinstance(x, PostgresServer) for x in started) else [*started, PostgresServer(settings())]


def _family(name: str) -> list[Service]:
    """The services a `lakehouse NAME` command acts on: `kafka` is every broker the lakehouse runs,
    `spark` the Spark server and, in cluster mode, its master and workers."""
    family = [service for service in all_services() if service.name == name or service.name.startswith(f"{name}-")]
    if not family and name == "kafka":
        raise LakehouseError(
            f"Kafka is not run by the lakehouse here: LAKEHOUSE_KAFKA_BOOTSTRAP names {settings().kafka_bootstrap}",
            hint="start and stop it where it runs; `lakehouse status` says whether it answers",
        )
    return family


def cmd_up(_: argparse.Namespace) -> None:
    for service in services():
        service.start()
    from ingestion.spark import connect
    from ingestion.tables import ensure_tables

    # Every bronze table exists from the start, empty until its source delivers: dbt and the
    # automation can build silver and gold before every source has data.
    spark = connect()
    for source in SOURCES.values():
        ensure_tables(spark, source)


def cmd_down(_: argparse.Namespace) -> None:
    stopping = list(reversed(all_services()))
    brokers = [service for service in stopping if isinstance(service, KafkaBroker)]
    for service in stopping:
        if brokers and service is brokers[0]:
            # Together: a broker stopped last, after the others, would wait for a controller quorum.
            with ThreadPoolExecutor(len(brokers)) as pool:
                list(pool.map(lambda broker: broker.stop(), brokers))
        elif service not in brokers:
            service.stop()


def cmd_status(_: argparse.Namespace) -> None:
    for service in all_services():
        print(service.status())
    print(f"data home: {settings().home}")


def cmd_service(args: argparse.Namespace) -> None:
    family = _family(args.service)
    if args.action == "start":
        for service in family:
            service.start()
    elif args.action == "stop":
        for service in reversed(family):
            service.stop()
    else:
        for service in family:
            print(service.status())


def cmd_jars(_: argparse.Namespace) -> None:
    bundles = [kafka_bundle(settings()), spark_server_bundle(settings())]
    if settings().mode == "cluster":
        bundles.append(hadoop_bundle())
    if settings().spark_warehouse.startswith("s3a://"):
        bundles.append(s3a_bundle())
    for bundle in bundles:
        jars = ensure_jars(bundle, settings())
        print(f"{bundle.name}: {len(jars)} jars in {bundle.directory(settings())}")


def cmd_clean(args: argparse.Namespace) -> None:
    running = [service.name for service in all_services() if service.status().running]
    if running:
        raise LakehouseError(
            f"cannot wipe the data home while {', '.join(running)} is running",
            hint="run `lakehouse down` first",
        )
    home = settings().home
    if not home.exists():
        print(f"nothing to wipe: {home} does not exist")
        return
    keep = set() if args.all else {settings().cache}
    for entry in home.iterdir():
        if entry in keep:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    print(f"wiped {home}" + ("" if args.all else f" (kept the jar cache {settings().cache})"))


def cmd_dbt(args: argparse.Namespace) -> None:
    run_dbt(*args.dbt_args)


def cmd_build(args: argparse.Namespace) -> None:
    build_what_changed(everything=args.all)


def _sources(names: list[str]):
    return [get_source(name) for name in (names or SOURCES)]


def cmd_generate(args: argparse.Namespace) -> None:
    from lakehouse.samples.records import generate

    both = not (args.files_only or args.topics_only)
    generate(
        rows=args.rows,
        seed=args.seed,
        files=both or args.files_only,
        topics=both or args.topics_only,
        rate=args.rate,
        only_if_empty=args.only_if_empty,
    )


def cmd_land(args: argparse.Namespace) -> None:
    from ingestion.landing import landing_folder

    source = get_source(args.source)
    if source.kind != "file":
        raise LakehouseError(
            f"{source.name} reads the Kafka topic {source.topic}, not files",
            hint=f"lakehouse produce-file {source.topic} FILE",
        )
    folder = landing_folder(source)
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise LakehouseError(f"{path}: no such file", hint="name files on this machine's disk")
        folder.put(path, path.name)
        print(f"{path} -> {folder.url_of(path.name)}")


def cmd_produce_file(args: argparse.Namespace) -> None:

    from lakehouse.samples.producer import replay_file

    sent = replay_file(args.topic, Path(args.file), args.batch_size, args.pause)
    print(f"{args.topic}: sent {sent} rows from {args.file}")


def cmd_ingest(args: argparse.Namespace) -> None:
    sources = _sources(args.sources)
    if args.follow:
        from lakehouse.build.follow import follow, stop_on_ctrl_c

        follow(sources, args.interval, args.build, stop_on_ctrl_c())
        return
    unreadable = _ingest_once(sources, args.max_batches)
    if unreadable:
        raise unreadable


def _ingest_once(sources: list, max_batches: int | None) -> LakehouseError | None:
    """Land what every source holds now; the error naming the files that could not be read
    (everything else landed), if any."""
    from ingestion.api import ingest
    from ingestion.spark import connect
    from lakehouse.build.dagster_instance import record_ingestion

    spark = connect()
    skipped = []
    for source in sources:
        batches = ingest(spark, source, max_batches=max_batches)
        record_ingestion(source, batches)
        good = sum(b.rows_good or 0 for b in batches)
        bad = sum(b.rows_bad or 0 for b in batches)
        print(f"{source.name}: {len(batches)} batches, {good} rows to {source.table}, {bad} quarantined", flush=True)
        skipped += [f"{source.name}/{b.note}" for b in batches if b.status == BatchStatus.UNREADABLE]
    if not skipped:
        return None
    return LakehouseError(
        f"{len(skipped)} file(s) could not be read; nothing of them landed, everything else did:\n  "
        + "\n  ".join(skipped),
        hint="replace or remove each file in the landing zone; a changed file is read again",
    )


def cmd_batches(args: argparse.Namespace) -> None:
    from ingestion.spark import connect
    from ingestion.tables import ledger_exists, ledger_view

    source = get_source(args.source) if args.source else None
    spark = connect()
    if not ledger_exists(spark):
        print("the ledger is empty: nothing was ingested yet")
        return
    ledger_view(spark, source.name if source else None).show(args.limit, truncate=False)


def cmd_schema(args: argparse.Namespace) -> None:
    from ingestion.spark import connect

    print_schema_history(connect(), get_source(args.source))


def print_schema_history(spark: SparkSession, source: Source) -> None:
    """The batches that changed the source's shape, and how its last batch differs from the declaration."""
    from ingestion.ledger import read_batches
    from ingestion.shapes import Shape, history
    from ingestion.tables import ledger_exists

    batches = read_batches(spark, source) if ledger_exists(spark) else []
    changes = history(batches)
    print(
        f"{source.name}: schema policy {source.schema_policy}; {len(changes)} change(s) of shape in "
        f"{len(batches)} batch(es) (+ a new field, - a field every batch before carried, ~ a new type)"
    )
    for batch, lines in changes:
        when = f"{batch.started_at:%Y-%m-%d %H:%M}" if batch.started_at else ""
        print(f"\n{batch.batch_id}  {when}  {batch.status}  {batch.plan.describe()}")
        for line in lines:
            print(f"    {line}")
    last = next((Shape.from_json(b.shape) for b in reversed(batches) if b.shape), None)
    if last is not None:
        new, missing = last.new_fields(source), last.missing_fields(source)
        differences = [
            *([f"not declared: {', '.join(new)}"] if new else []),
            *(f"{name} seen as {', '.join(types)}" for name, types in last.retyped_fields(source).items()),
            *([f"absent: {', '.join(missing)}"] if missing else []),
        ]
        print(f"\nthe last batch against the declaration: {'; '.join(differences) or 'the same'}")


def cmd_contracts(args: argparse.Namespace) -> None:
    from ingestion import contracts

    if not args.check:
        contracts.FOLDER.mkdir(exist_ok=True)
        for source in SOURCES.values():
            before, text = contracts.committed(source), contracts.render(source)
            if before is None or contracts.path_of(source).read_text() != text:
                contracts.path_of(source).write_text(text)
                after = contracts.version_of(contracts.contract_of(text))
                print(f"{source.name}: {f'{contracts.version_of(before)} → {after}' if before else f'new, {after}'}")
        print(f"{len(SOURCES)} contracts (Open Data Contract Standard {contracts.API_VERSION}) in {contracts.FOLDER}")
        return
    results = [contracts.check(source) for source in SOURCES.values()]
    breaking = [f"{result.source}: {change}" for result in results for change in result.breaking]
    if breaking:
        raise LakehouseError(
            f"{len(breaking)} breaking change(s) against the committed contracts: {'; '.join(breaking)}",
            hint="tell the source's producers and readers, then `lakehouse contracts` writes the new contracts (next major version)",
        )
    outdated = [result.source for result in results if result.outdated]
    if outdated:
        raise LakehouseError(
            f"the contracts of {', '.join(outdated)} differ from their declarations (no breaking change)",
            hint="`lakehouse contracts` writes them again",
        )
    print(f"the {len(results)} contracts in {contracts.FOLDER} match the declarations")


def cmd_rollback(args: argparse.Namespace) -> None:
    from ingestion.api import rollback
    from ingestion.spark import connect

    source = get_source(args.source)
    rollback(connect(), source, args.batch_id)


def cmd_purge(args: argparse.Namespace) -> None:
    from ingestion.api import purge
    from ingestion.spark import connect

    source = get_source(args.source)
    batch = purge(connect(), source, args.batch_id)
    print(f"{args.source}: {args.batch_id} {batch.note}")


def cmd_replay(args: argparse.Namespace) -> None:
    from ingestion.api import replay
    from ingestion.spark import connect

    source = get_source(args.source)
    batch = replay(connect(), source, args.batch_id)
    print(f"{args.source}: replayed {args.batch_id} as {batch.describe()}")


def cmd_maintain(args: argparse.Namespace) -> None:
    from ingestion.spark import connect
    from lakehouse.operations.maintenance import maintain

    maintained = maintain(connect(), args.retain_hours, args.tables or None)
    for table in maintained:
        print(table.describe())
    print(f"{len(maintained)} tables compacted and vacuumed")


def cmd_run(args: argparse.Namespace) -> None:
    """The main job: start what is missing, load the sample data, build every layer."""
    cmd_up(args)
    from lakehouse.samples.records import generate

    generate(rows=args.rows, seed=42, files=True, topics=True, rate=None, only_if_empty=True)
    # A damaged file is skipped with its reason: what did land is built all the same, and the
    # file is named again at the end (exit code 1).
    unreadable = _ingest_once(_sources([]), max_batches=None)
    build_what_changed()
    from ingestion.spark import connect
    from lakehouse.verify.checksums import checksum_lines, gold_checksums

    print("\nGold (rows and an order-independent checksum of each table, to compare two builds):")
    print("\n".join(checksum_lines(gold_checksums(connect()))))
    print(where_to_look(settings()), flush=True)
    if args.follow:
        from lakehouse.build.follow import follow as follow_sources
        from lakehouse.build.follow import stop_on_ctrl_c

        if unreadable:
            print(f"error: {unreadable}", file=sys.stderr, flush=True)
        follow_sources(_sources([]), args.interval, build=True, stop=stop_on_ctrl_c())
    elif unreadable:
        raise unreadable


GOLD_BEHIND = 3
"""`lakehouse verify`'s exit code when gold is not built from the bronze it would compare with (1: gold differs)."""


def where_to_look(s) -> str:
    """Every way to look at what `lakehouse run` built, with its command and address."""
    return (
        "\nDone. Where to look:\n"
        f"  dashboard:      make dashboard   (charts of gold, data health on http://127.0.0.1:{s.dashboard_port})\n"
        f"  REST API:       make api         (http://127.0.0.1:{s.api_port}/docs)\n"
        f"  Dagster UI:     make ui          (assets, checks, runs, schedules on http://127.0.0.1:{s.dagster_port})\n"
        f"  dbt docs:       make docs        (lineage on http://127.0.0.1:{s.docs_port})\n"
        f"  ad hoc SQL:     make sql         (beeline on jdbc:hive2://{s.spark_host}:{s.thrift_port})\n"
        f"  PySpark:        SparkSession.builder.remote('{s.spark_connect_url}').getOrCreate()\n"
        f"  PostgreSQL:     make publish     (gold and the ledger into postgresql://lakehouse@127.0.0.1:{s.postgres_port}/lakehouse)\n"
        "  a file:         .venv/bin/lakehouse export gold.agg_sales_by_product --format csv --out sales.csv\n"
        "  check gold:     .venv/bin/lakehouse verify   (every gold table recomputed independently, and compared)\n"
        "  alerts:         .venv/bin/lakehouse alerts   (what is wrong now; a banner on the dashboard, LAKEHOUSE_ALERT_WEBHOOK)\n"
        f"  metrics:        http://127.0.0.1:{s.api_port}/metrics   (Prometheus, while `make api` runs)\n"
        f"  Spark UI:       http://{s.spark_host}:{s.spark_ui_port}\n"
        f"  data home:      {s.home}\n"
        f"{credentials(s)}"
        "  stop it all:    make down"
    )


def credentials(s) -> str:
    """Where the doors' credentials are, when the doors have any (never the credentials themselves)."""
    if not (s.spark_token or s.postgres_password):
        return ""
    return (
        "  credentials:    LAKEHOUSE_SPARK_TOKEN (Spark Connect's token, and Thrift user `lakehouse`'s password) and\n"
        "                  LAKEHOUSE_POSTGRES_PASSWORD (PostgreSQL user `lakehouse`), else the files\n"
        f"                  spark.token and postgres.password in {s.secrets_dir}\n"
    )


def cmd_verify(args: argparse.Namespace) -> None:
    """Every gold table recomputed from the raw inputs by DuckDB, and compared."""
    from ingestion.spark import connect
    from lakehouse.build.changes import plan_build
    from lakehouse.verify.recompute import report, timed, verify

    spark = connect()
    timings: dict[str, float] = {}
    with timed(timings, "new batches looked for"):
        behind = plan_build(spark).changed_sources
    if behind:
        raise LakehouseError(
            f"gold is behind bronze: {', '.join(behind)} took new batches since the last build, and verify "
            "recomputes gold from bronze as it is now; nothing was compared",
            hint="lakehouse build, then lakehouse verify",
            exit_code=GOLD_BEHIND,
        )
    comparisons = verify(spark, timings)
    print(report(comparisons))
    print("where the time went: " + ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in timings.items()))
    disagree = [c.table for c in comparisons if not c.agrees]
    if disagree:
        raise LakehouseError(
            f"{len(disagree)} gold table(s) differ from the recomputation: {', '.join(disagree)}",
            hint="each difference is a bug in the models or in the rules of lakehouse/verify/recompute.py: see the examples above",
        )
    print(f"every gold table agrees with the recomputation ({sum(c.equal for c in comparisons)} rows compared)")


def cmd_alerts(_: argparse.Namespace) -> None:
    """Check the alert conditions once (as the Dagster sensor does every 30 s), then list the open alerts."""
    from ingestion.spark import connect
    from lakehouse.operations.alerts import check

    checked = check(connect())
    for alert in checked.raised:
        print(f"raised: {alert.message}")
    for alert in checked.resolved:
        print(f"resolved: {alert.message}")
    still = [*checked.still_open, *checked.raised]
    print(
        f"{len(still)} open alert(s)"
        + "".join(f"\n  {a.kind}: {a.message} (since {a.raised_at:%Y-%m-%d %H:%M})" for a in still)
    )


def cmd_export(args: argparse.Namespace) -> None:
    from ingestion.spark import connect
    from lakehouse.serving.access import Role
    from lakehouse.serving.export import export_table

    out = Path(args.out)
    table, rows, masked = export_table(connect(), args.table, args.format, out, Role(args.role))
    hidden = f" ({', '.join(masked)} masked for {args.role})" if masked else ""
    print(f"{table}: {rows} rows written to {out}{hidden}")


def cmd_users(args: argparse.Namespace) -> None:
    from lakehouse.serving import access

    path = settings().users_file
    if args.action == "list":
        users = access.read_users()
        for entry in users.values():
            print(f"{entry.name}\t{entry.role}")
        print(f"{len(users)} users in {path}" + ("" if users else ": the API and the dashboard are open on 127.0.0.1"))
        return
    if not args.name:
        raise LakehouseError(f"lakehouse users {args.action} needs a NAME")
    if args.action == "remove":
        access.remove_user(args.name)
        print(f"{args.name} removed from {path}")
        return
    if not args.role:
        raise LakehouseError("lakehouse users add needs --role", hint="viewer, analyst or admin")
    if args.password_stdin:
        secret = sys.stdin.readline().rstrip("\n")
    else:
        import getpass

        secret = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != secret:
            raise LakehouseError("the two passwords differ")
    access.add_user(args.name, args.role, secret)
    print(f"{args.name} ({args.role}) in {path}")


def cmd_publish(args: argparse.Namespace) -> None:
    from ingestion.spark import connect
    from lakehouse.serving.publish import publish

    published = publish(connect(), args.tables or None)
    for table in published:
        print(f"{table.table}: {table.rows} rows in {table.seconds:.1f}s")
    print(f"published {len(published)} tables ({sum(t.rows for t in published)} rows) to PostgreSQL")


def cmd_api(args: argparse.Namespace) -> None:
    from lakehouse.serving.api import serve

    cmd_up(args)
    serve(args.port)


def cmd_dashboard(args: argparse.Namespace) -> None:
    """Streamlit on 127.0.0.1, after starting the services it reads."""
    cmd_up(args)
    port = args.port or settings().dashboard_port
    app = Path(__file__).parent / "serving" / "dashboard" / "app.py"
    argv = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false", "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    print(f"dashboard on http://127.0.0.1:{port} (Ctrl-C stops it; the services keep running)", flush=True)
    raise SystemExit(run_in_own_group(argv, cwd=PROJECT_ROOT))


def cmd_sql(args: argparse.Namespace) -> None:
    s = settings()
    beeline = spark_home() / "bin" / "beeline"
    argv = [str(beeline), "-u", f"jdbc:hive2://{s.spark_host}:{s.thrift_port}/default", "-n", "lakehouse"]
    if args.execute:
        argv += ["-e", args.execute]
    env = {**os.environ, "SPARK_HOME": str(spark_home())}
    if not s.spark_token:
        raise SystemExit(subprocess.run(argv, env=env).returncode)
    # The service user's password from a file of this account's only (`-w`): `-p` would show in `ps`.
    with tempfile.NamedTemporaryFile("w", prefix="beeline-") as password:
        password.write(s.spark_token)
        password.flush()
        raise SystemExit(subprocess.run([*argv, "-w", password.name], env=env).returncode)


def cmd_ui(args: argparse.Namespace) -> None:
    """The Dagster UI with its daemon (schedules, sensors, automation), on 127.0.0.1."""
    cmd_up(args)
    port = args.port or settings().dagster_port
    # dagster-dbt looks for `dbt` on PATH (to prepare the manifest): this environment's comes first.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    from lakehouse.build.dagster_instance import dagster_home, fail_abandoned_runs

    env = {**os.environ, "DAGSTER_HOME": str(dagster_home()), "PATH": path}
    dagster = shutil.which("dagster", path=os.path.dirname(sys.executable)) or "dagster"
    fail_abandoned_runs()  # a UI killed before this one may have left runs holding the dbt pool
    print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it; the services keep running)", flush=True)
    argv = [dagster, "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)]
    returncode = run_in_own_group(argv, cwd=PROJECT_ROOT, env=env)
    fail_abandoned_runs(wait_s=10)  # the runs that the stop interrupted
    raise SystemExit(returncode)


def cmd_docs(args: argparse.Namespace) -> None:
    run_dbt("docs", "generate")
    port = args.port or settings().docs_port
    print(f"serving the dbt docs on http://127.0.0.1:{port} (lineage: the graph icon, bottom right)", flush=True)
    run_dbt("docs", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every option's default said, unless its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, [], argparse.SUPPRESS) and action.option_strings
        return f"{text} (default: %(default)s)" if shown and "default" not in text else text


class _Parser(argparse.ArgumentParser):
    """A mistake on the command line is one line naming the valid choices, not a usage block."""

    def error(self, message: str) -> NoReturn:
        choices = ", ".join(_options(self))
        valid = f"; the options are: {choices}" if "unrecognized arguments" in message and choices else ""
        print(f"{self.prog}: {message}{valid} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings if option.startswith("--")]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lakehouse",
        description=__doc__,
        epilog="examples:\n  lakehouse run\n  lakehouse ingest sales --max-batches 1\n  lakehouse COMMAND --help",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], None], help: str, *examples: str):
        command = sub.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog="examples:\n" + "\n".join(f"  lakehouse {example}" for example in examples),
            formatter_class=_HelpFormatter,
        )
        command.set_defaults(handler=handler)
        return command

    add("up", cmd_up, "start Kafka and the Spark server (idempotent)", "up")
    add("down", cmd_down, "stop every service", "down")
    add("status", cmd_status, "show what runs and where", "status")
    for name in ("kafka", "spark", "postgres"):
        command = add(name, cmd_service, f"start, stop or show the {name} service", f"{name} status")
        command.add_argument("action", choices=["start", "stop", "status"])
        command.set_defaults(service=name)
    add("jars", cmd_jars, "fetch the Kafka and Delta jars from Maven Central (cached in the data home)", "jars")
    clean = add("clean", cmd_clean, "wipe the data home (keeps the jar cache unless --all)", "clean", "clean --all")
    clean.add_argument("--all", action="store_true", help="also wipe the jar cache")
    run = add(
        "run",
        cmd_run,
        "the main job: start services, load sample data, ingest, dbt build",
        "run",
        "run --rows 2000 --follow --interval 10",
    )
    run.add_argument("--rows", type=int, default=20_000, help="sample records per source")
    run.add_argument("--follow", action="store_true", help="then keep every layer up to date until Ctrl-C")
    run.add_argument("--interval", type=float, default=5.0, help="seconds between rounds with --follow")
    generate = add(
        "generate",
        cmd_generate,
        "sample data: files into the landing zone, messages into topics",
        "generate --rows 1000",
        "generate --topics-only --rate 1",
    )
    generate.add_argument("--rows", type=int, default=20_000, help="records per source")
    generate.add_argument("--seed", type=int, default=42, help="the random seed: the same seed, the same data")
    generate.add_argument("--rate", type=float, help="messages per second per topic (default: as fast as possible)")
    generate.add_argument("--files-only", action="store_true", help="only the files")
    generate.add_argument("--topics-only", action="store_true", help="only the Kafka messages")
    generate.add_argument(
        "--only-if-empty",
        action="store_true",
        help="skip topics that already hold messages, and files if the landing zone holds any",
    )
    land = add(
        "land",
        cmd_land,
        "copy files into a source's landing folder (local, or HDFS in cluster mode)",
        "land transactions export.csv",
    )
    land.add_argument("source", help=f"any of: {', '.join(n for n, s in SOURCES.items() if s.kind == 'file')}")
    land.add_argument("files", nargs="+", metavar="FILE")
    produce_file = add(
        "produce-file",
        cmd_produce_file,
        "replay a CSV, JSON-lines or .xlsx file into a topic",
        "produce-file sales sales.csv --batch-size 10 --pause 0.5",
    )
    produce_file.add_argument("topic", help=f"any of: {', '.join(s.topic for s in SOURCES.values() if s.topic)}")
    produce_file.add_argument("file")
    produce_file.add_argument("--batch-size", type=int, default=100, help="messages sent together")
    produce_file.add_argument("--pause", type=float, default=1.0, help="seconds between batches")
    ingest = add(
        "ingest",
        cmd_ingest,
        "land sources in bronze (all of them by default)",
        "ingest",
        "ingest sales transactions --max-batches 1",
        "ingest sales --follow --build",
    )
    ingest.add_argument("sources", nargs="*", metavar="SOURCE", help=f"any of: {', '.join(SOURCES)}")
    ingest.add_argument("--max-batches", type=int, help="stop after this many batches per source (default: no limit)")
    ingest.add_argument("--follow", action="store_true", help="keep ingesting what arrives until Ctrl-C")
    ingest.add_argument("--interval", type=float, default=5.0, help="seconds between rounds with --follow")
    ingest.add_argument("--build", action="store_true", help="with --follow: also build what new rows reach")
    batches = add("batches", cmd_batches, "the batch ledger, newest first", "batches", "batches sales --limit 5")
    batches.add_argument("source", nargs="?", help="one source (default: every source)")
    batches.add_argument("--limit", type=int, default=50, help="batches shown")
    schema = add(
        "schema",
        cmd_schema,
        "the shapes a source's batches had, and when they changed",
        "schema",
        "schema transactions",
    )
    schema.add_argument("source")
    contracts = add(
        "contracts",
        cmd_contracts,
        "write each source's data contract (Open Data Contract Standard YAML) from its declaration;"
        " a changed one moves to its next semantic version (major: breaking)",
        "contracts",
        "contracts --check",
    )
    contracts.add_argument(
        "--check", action="store_true", help="compare with the committed contracts; exit 1 naming breaking changes"
    )
    for name, handler, text in (
        ("rollback", cmd_rollback, "hide a batch from every reader (a ledger event; its records stay in bronze)"),
        ("replay", cmd_replay, "ingest a rolled-back batch again from its file or Kafka offsets"),
        (
            "purge",
            cmd_purge,
            "delete a rolled-back or quarantined batch's records from bronze (a Delta DELETE: Delta history "
            "keeps them until VACUUM removes the files past its retention)",
        ),
    ):
        command = add(name, handler, text, f"{name} sales sales-000003")
        command.add_argument("source")
        command.add_argument("batch_id", help="as `lakehouse batches SOURCE` shows it")
    maintain = add(
        "maintain",
        cmd_maintain,
        "compact every Delta table, then VACUUM the files older than the retention",
        "maintain",
        "maintain --retain-hours 24",
        "maintain bronze.ingestion_batch_events bronze.sales__all",
    )
    maintain.add_argument("tables", nargs="*", metavar="TABLE", help="only these tables (default: every Delta table)")
    maintain.add_argument(
        "--retain-hours", type=float, help="history kept (default: LAKEHOUSE_VACUUM_RETAIN_HOURS, 168)"
    )
    build = add(
        "build",
        cmd_build,
        "dbt build of what new batches or changed models reach (nothing if none)",
        "build",
        "build --all",
    )
    build.add_argument("--all", action="store_true", help="build every model, seed and test")
    dbt_command = add(
        "dbt", cmd_dbt, "run dbt in the project root, with the project's profile", "dbt test --select silver"
    )
    dbt_command.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's own command and options")
    export = add(
        "export",
        cmd_export,
        "write a table into one CSV or Parquet file (header included), in bounded memory",
        "export gold.agg_sales_by_product --out sales.csv",
        "export slv_commerce__sales --format parquet --out sales.parquet",
    )
    export.add_argument("table", help="e.g. gold.agg_sales_by_product (a bare name: gold, then silver, bronze)")
    export.add_argument("--format", choices=["csv", "parquet"], default="csv", help="the file's format")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument(
        "--role",
        choices=["viewer", "analyst", "admin"],
        default="admin",
        help="write what this role may see: its tables only, personal columns masked below admin",
    )
    users = add(
        "users",
        cmd_users,
        "add, remove or list the users of the API and the dashboard (LAKEHOUSE_USERS_FILE; secrets hashed)",
        "users add ana --role analyst",
        "users list",
        "users remove ana",
    )
    users.add_argument("action", choices=["add", "remove", "list"])
    users.add_argument("name", nargs="?", help="the user (add, remove)")
    users.add_argument(
        "--role",
        choices=["viewer", "analyst", "admin"],
        help="viewer: gold; analyst: also silver; admin: everything, unmasked",
    )
    users.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin (scripts)"
    )
    publish = add(
        "publish",
        cmd_publish,
        "copy gold and the batch ledger into PostgreSQL (replacing what was there)",
        "publish",
        "publish gold.agg_sales_by_product",
    )
    publish.add_argument("tables", nargs="*", metavar="TABLE", help="e.g. gold.agg_sales_by_product (default: all)")
    api = add("api", cmd_api, "the read-only REST API on 127.0.0.1 (OpenAPI docs on /docs)", "api --port 8001")
    api.add_argument("--port", type=int, help="default: LAKEHOUSE_API_PORT (8000)")
    dashboard = add(
        "dashboard", cmd_dashboard, "the Streamlit dashboard on 127.0.0.1, data health included", "dashboard"
    )
    dashboard.add_argument("--port", type=int, help="default: LAKEHOUSE_DASHBOARD_PORT (8501)")
    add(
        "verify",
        cmd_verify,
        "recompute every gold table from the raw inputs with DuckDB and compare (exit 1: differs, 3: gold behind bronze)",
        "verify",
    )
    add(
        "alerts",
        cmd_alerts,
        "check the alert conditions now (failed tests and runs, stale sources, bad batches, slow builds) and "
        "list the open alerts; LAKEHOUSE_ALERT_WEBHOOK receives each change",
        "alerts",
    )
    sql = add("sql", cmd_sql, "ad hoc Spark SQL with beeline over Thrift/JDBC", "sql", 'sql -e "show tables in gold"')
    sql.add_argument("-e", "--execute", help="run one statement and exit (default: an interactive prompt)")
    docs = add("docs", cmd_docs, "generate and serve the dbt docs site (lineage)", "docs --port 8081")
    docs.add_argument("--port", type=int, help="default: LAKEHOUSE_DOCS_PORT (8080)")
    ui = add(
        "ui", cmd_ui, "start the services and the Dagster UI with its daemon (schedules, sensors)", "ui --port 3001"
    )
    ui.add_argument("--port", type=int, help="default: LAKEHOUSE_DAGSTER_PORT (3000)")
    return parser


OUR_LOGGERS = ("ingestion", "lakehouse")


class OneLinePerEvent(logging.Formatter):
    """Our messages as they are (the progress lines users read); another library's (kafka-python
    when a broker goes away, py4j, ...) prefixed with its name and level. Every event on one line:
    an exception is named, not traced back."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            message = f"{message} ({type(error).__name__}: {error})"
        if not record.name.startswith(OUR_LOGGERS):
            message = f"{record.name} {record.levelname.lower()}: {message}"
        return " ".join(message.split("\n"))


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLinePerEvent())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    for ours in OUR_LOGGERS:
        logging.getLogger(ours).setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's own parser, which knows its options
        parser._subparsers._group_actions[0].choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    configure_logging()
    try:
        args.handler(args)
    except LakehouseError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
