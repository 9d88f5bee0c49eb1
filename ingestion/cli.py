"""`lakehouse`: start and stop the local services, run the main job, open SQL and docs."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable

from ingestion.config import PROJECT_ROOT, settings
from ingestion.errors import LakehouseError
from ingestion.runtime.jars import delta_bundle, ensure_jars, kafka_bundle
from ingestion.runtime.kafka import KafkaBroker
from ingestion.runtime.service import Service
from ingestion.runtime.spark_server import SparkServer, spark_home


def services() -> list[Service]:
    return [KafkaBroker(settings()), SparkServer(settings())]


def _service(name: str) -> Service:
    return {service.name: service for service in services()}[name]


def cmd_up(_: argparse.Namespace) -> None:
    for service in services():
        service.start()


def cmd_down(_: argparse.Namespace) -> None:
    for service in reversed(services()):
        service.stop()


def cmd_status(_: argparse.Namespace) -> None:
    for service in services():
        print(service.status())
    print(f"data home: {settings().home}")


def cmd_service(args: argparse.Namespace) -> None:
    service = _service(args.service)
    if args.action == "start":
        service.start()
    elif args.action == "stop":
        service.stop()
    else:
        print(service.status())


def cmd_jars(_: argparse.Namespace) -> None:
    for bundle in (kafka_bundle(settings()), delta_bundle(settings())):
        jars = ensure_jars(bundle, settings())
        print(f"{bundle.name}: {len(jars)} jars in {bundle.directory(settings())}")


def cmd_clean(args: argparse.Namespace) -> None:
    running = [service.name for service in services() if service.status().running]
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


def dbt(*args: str) -> None:
    """Run the dbt CLI of this environment in the project root; fail loudly if dbt fails."""
    executable = shutil.which("dbt", path=os.path.dirname(sys.executable)) or "dbt"
    print(f"$ dbt {' '.join(args)}", flush=True)
    result = subprocess.run([executable, *args], cwd=PROJECT_ROOT)
    if result.returncode != 0:
        raise LakehouseError(
            f"`dbt {' '.join(args)}` failed (exit {result.returncode})",
            hint=f"see the output above and {PROJECT_ROOT / 'logs' / 'dbt.log'}",
        )


def cmd_dbt(args: argparse.Namespace) -> None:
    dbt(*args.dbt_args)


def cmd_run(_: argparse.Namespace) -> None:
    """The main job: start what is missing, load the sample data, build every layer."""
    cmd_up(_)
    dbt("build", "--target", "local")
    s = settings()
    print(
        "\nDone. Where to look:\n"
        f"  ad hoc SQL:     make sql   (beeline on jdbc:hive2://{s.spark_host}:{s.thrift_port})\n"
        f"  PySpark:        SparkSession.builder.remote('{s.spark_connect_url}').getOrCreate()\n"
        f"  dbt docs:       make docs  (lineage on http://127.0.0.1:8080)\n"
        f"  Spark UI:       http://{s.spark_host}:{s.spark_ui_port}\n"
        f"  data home:      {s.home}\n"
        "  stop it all:    make down"
    )


def cmd_sql(args: argparse.Namespace) -> None:
    s = settings()
    beeline = spark_home() / "bin" / "beeline"
    argv = [str(beeline), "-u", f"jdbc:hive2://{s.spark_host}:{s.thrift_port}/default", "-n", "lakehouse"]
    if args.execute:
        argv += ["-e", args.execute]
    env = {**os.environ, "SPARK_HOME": str(spark_home())}
    raise SystemExit(subprocess.run(argv, env=env).returncode)


def cmd_docs(args: argparse.Namespace) -> None:
    dbt("docs", "generate", "--target", "local")
    dbt("docs", "serve", "--host", "127.0.0.1", "--port", str(args.port), "--no-browser")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], None], help: str):
        command = sub.add_parser(name, help=help)
        command.set_defaults(handler=handler)
        return command

    add("up", cmd_up, "start Kafka and the Spark server (idempotent)")
    add("down", cmd_down, "stop every service")
    add("status", cmd_status, "show what runs and where")
    for name in ("kafka", "spark"):
        command = add(name, cmd_service, f"start, stop or show the {name} service")
        command.add_argument("action", choices=["start", "stop", "status"])
        command.set_defaults(service=name)
    add("jars", cmd_jars, "fetch the Kafka and Delta jars from Maven Central")
    clean = add("clean", cmd_clean, "wipe the data home (keeps the jar cache unless --all)")
    clean.add_argument("--all", action="store_true", help="also wipe the jar cache")
    add("run", cmd_run, "the main job: start services, load data, dbt build")
    dbt_command = add("dbt", cmd_dbt, "run dbt in the project root")
    dbt_command.add_argument("dbt_args", nargs=argparse.REMAINDER)
    sql = add("sql", cmd_sql, "ad hoc Spark SQL with beeline over Thrift/JDBC")
    sql.add_argument("-e", "--execute", help="run one statement and exit")
    docs = add("docs", cmd_docs, "generate and serve the dbt docs site (lineage)")
    docs.add_argument("--port", type=int, default=8080)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except LakehouseError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
