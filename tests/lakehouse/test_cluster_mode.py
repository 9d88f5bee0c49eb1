"""Cluster mode (`LAKEHOUSE_MODE=cluster`): a three-broker Kafka cluster, a Spark standalone master
with two workers running the lakehouse server's executors, the Hive metastore in PostgreSQL and HDFS
(NameNode and DataNode) holding the warehouse, the landing zone and the staging area, all started by
`lakehouse up` under `.lakehouse/cluster` (ports +500) and stopped at the end, also on failure;
the brokers let clients in with SASL/PLAIN only, as a secured cluster would, and every other door
(Spark Connect, Thrift, PostgreSQL) asks for the credentials `lakehouse up` made in the data home.
The same pipeline on the built lakehouse's input gives the same gold; Dagster, rollback, replay and
Thrift work there unchanged; a broker and a worker killed during an ingestion lose and duplicate
nothing.

Slow (about 8 minutes): `make test PYTEST_ARGS="-m cluster"` runs it alone.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from ingestion.config import PROJECT_ROOT
from lakehouse.settings import side_by_side_environment
from tests.ingestion.test_malformed_corpus import FILES, send_messages
from tests.lakehouse.conftest import BUILT_ENV, fresh_services

pytestmark = pytest.mark.cluster

KAFKA_PASSWORD = secrets.token_hex(12)
CLUSTER_ENV = {
    **side_by_side_environment("cluster"),
    "LAKEHOUSE_MODE": "cluster",
    # The brokers take SASL/PLAIN from this one user: every client of the pipeline logs in.
    "LAKEHOUSE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "LAKEHOUSE_KAFKA_USERNAME": "lakehouse",
    "LAKEHOUSE_KAFKA_PASSWORD": KAFKA_PASSWORD,
    "LAKEHOUSE_CACHE": os.environ["LAKEHOUSE_CACHE"],
    "LAKEHOUSE_INGEST_SETTLE_SECONDS": "0",
}
HOME = Path(CLUSTER_ENV["LAKEHOUSE_HOME"])
CLUSTER_ENV["DBT_TARGET_PATH"] = str(HOME / "dbt" / "target")
CLUSTER_ENV["DBT_LOG_PATH"] = str(HOME / "dbt" / "logs")
KAFKA_PORT = int(CLUSTER_ENV["LAKEHOUSE_KAFKA_PORT"])
BOOTSTRAP = ",".join(f"127.0.0.1:{KAFKA_PORT + 2 * n}" for n in range(3))
KAFKA_LOGIN = {
    "security_protocol": "SASL_PLAINTEXT",
    "sasl_mechanism": "PLAIN",
    "sasl_plain_username": "lakehouse",
    "sasl_plain_password": KAFKA_PASSWORD,
}
SERVICES = [
    "postgres",
    "hdfs-namenode",
    "hdfs-datanode",
    "kafka-1",
    "kafka-2",
    "kafka-3",
    "spark-master",
    "spark-worker-1",
    "spark-worker-2",
    "spark",
]


def _environment(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    return {**base, **CLUSTER_ENV, **extra}


def cluster_cli(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=PROJECT_ROOT,
        env=_environment(**extra_env),
        capture_output=True,
        text=True,
        timeout=900,
    )


def _query(env: dict[str, str], code: str) -> object:
    """Run `code` (which sets `result`) in a child process with a Spark Connect session `spark` to
    the lakehouse of `env`; the JSON of `result`."""
    program = (
        "import json\nfrom ingestion.spark import connect\nspark = connect()\n"
        f"{code}\nprint('RESULT ' + json.dumps(result))\n"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT_ROOT, env={**base, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])


GOLD_CHECKSUMS = "from lakehouse.verify.checksums import gold_checksums\nresult = gold_checksums(spark)"


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (ip.ipv4_mapped or ip).is_loopback if ip.version == 6 else ip.is_loopback


def _pid(service: str) -> int:
    return int((HOME / "run" / f"{service}.pid").read_text())


def _hdfs(path: str) -> list[str]:
    """The names in an HDFS folder, through WebHDFS."""
    url = f"http://127.0.0.1:{CLUSTER_ENV['LAKEHOUSE_HDFS_HTTP_PORT']}/webhdfs/v1{path}?op=LISTSTATUS&user.name=root"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return sorted(status["pathSuffix"] for status in json.load(answer)["FileStatuses"]["FileStatus"])


HDFS = f"hdfs://127.0.0.1:{CLUSTER_ENV['LAKEHOUSE_HDFS_PORT']}"


def _secret(name: str) -> str:
    """A credential `lakehouse up` made for this cluster (none is given in its environment)."""
    return (HOME / "secrets" / name).read_text().strip()


def _postgres_url(database: str, login: str = "lakehouse", password: str | None = None) -> str:
    password = _secret("postgres.password") if password is None else password
    return f"postgresql://{login}:{password}@127.0.0.1:{CLUSTER_ENV['LAKEHOUSE_POSTGRES_PORT']}/{database}"


def _thrift(user: str | None = None, password: str | None = None):
    """A Thrift connection as `user` (none: an anonymous client, as beeline without -n)."""
    from pyhive import hive

    port = int(CLUSTER_ENV["LAKEHOUSE_THRIFT_PORT"])
    if user is None:
        return hive.connect("127.0.0.1", port=port)
    return hive.connect("127.0.0.1", port=port, username=user, password=password, auth="CUSTOM")


def _metastore(sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(_postgres_url("metastore")) as db:
        return db.execute(sql).fetchall()


def _land(source: str, files: dict[str, bytes], folder: Path) -> None:
    """Files into the source's landing folder on HDFS, the way a user does: `lakehouse land`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    landed = cluster_cli("land", source, *(str(folder / name) for name in files))
    assert landed.returncode == 0, landed.stderr


def _master_state() -> dict:
    url = f"http://127.0.0.1:{CLUSTER_ENV['LAKEHOUSE_SPARK_MASTER_UI_PORT']}/json/"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def cluster():
    with fresh_services(cluster_cli, HOME):
        yield


def test_every_process_of_the_cluster_runs_on_loopback(cluster):
    status = cluster_cli("status").stdout
    for service in SERVICES:
        assert f"{service}: running" in status, status
    assert "not answering" not in status
    for service in SERVICES:
        process = psutil.Process(_pid(service))
        listening = {c.laddr.ip for p in (process, *process.children(recursive=True)) for c in p.net_connections("tcp")}
        assert all(_loopback(address) for address in listening), (service, listening)

    master = _master_state()
    assert sorted(w["state"] for w in master["workers"]) == ["ALIVE", "ALIVE"]
    (application,) = master["activeapps"]
    assert application["name"] == "lakehouse-spark-server"
    assert all(w["coresused"] == 1 for w in master["workers"])  # an executor of the server on each

    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, **KAFKA_LOGIN)
    try:
        assert len(admin.describe_cluster()["brokers"]) == 3
    finally:
        admin.close()

    locations = dict(_metastore('select "TBL_NAME", "LOCATION" from "TBLS" join "SDS" using ("SD_ID")'))
    assert {"transactions__all", "sales__all", "ingestion_batch_events"} <= set(locations)
    assert locations["transactions__all"] == f"{HDFS}/warehouse/bronze.db/transactions__all"
    assert all(location.startswith(f"{HDFS}/warehouse/") for location in locations.values() if location)  # views: none
    assert _hdfs("/warehouse/bronze.db/transactions__all") == ["_delta_log"]


def test_the_pipeline_gives_the_gold_of_local_mode_on_the_same_input(cluster, built, tmp_path):
    assert cluster_cli("generate", "--rows", "1500").returncode == 0
    for source in sorted({case.source for case in FILES}):  # the built lakehouse's input: sample data and corpus
        corpus = {
            f"corpus_{case.name}": case.content.encode() if isinstance(case.content, str) else case.content
            for case in FILES
            if case.source == source
        }
        _land(source, corpus, tmp_path / source)
    send_messages(BOOTSTRAP, **KAFKA_LOGIN)
    assert "transactions_2026-11-01.csv" in _hdfs("/landing/transactions")
    assert not (HOME / "landing").exists()  # nothing on the local disk

    ingest = cluster_cli("ingest")
    # The corpus's unreadable workbook makes both exit 1 once everything else has landed.
    assert ingest.returncode == built.run.returncode == 1, ingest.stdout[-3000:] + ingest.stderr[-3000:]
    build = cluster_cli("build")
    assert build.returncode == 0, build.stdout[-4000:]

    cluster_gold = _query(CLUSTER_ENV, GOLD_CHECKSUMS)
    local_gold = _query(BUILT_ENV, GOLD_CHECKSUMS)
    assert len(cluster_gold) == 13
    assert all(rows > 0 for _, rows, _ in cluster_gold)
    assert cluster_gold == local_gold

    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, **KAFKA_LOGIN)
    try:
        (sales,) = admin.describe_topics(["sales"])
    finally:
        admin.close()
    assert {(len(p["replica_nodes"]), len(p["isr_nodes"])) for p in sales["partitions"]} == {(3, 3)}
    # (kafka-python's describe_configs answers nothing here: the setting as every broker runs with it)
    for broker in ("kafka-1", "kafka-2", "kafka-3"):
        properties = (HOME / "kafka" / broker / "config" / "server.properties").read_text()
        assert "min.insync.replicas=2" in properties
        assert "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT" in properties


def test_dagster_rollback_replay_and_thrift_work_unchanged_on_hdfs(cluster, tmp_path):
    from openpyxl import load_workbook

    from lakehouse.samples.records import write_landing_files

    (workbook,) = write_landing_files(tmp_path / "generated", seed=11, rows=100)["water_methods"]
    methods = sum(1 for row in load_workbook(workbook).active.iter_rows(min_row=2) if any(c.value for c in row))
    _land("water_methods", {"methods_2.xlsx": workbook.read_bytes()}, tmp_path / "new")
    dagster = {"DAGSTER_HOME": str(HOME / "dagster")}
    (HOME / "dagster").mkdir(exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "orchestration" / "dagster.yaml", HOME / "dagster" / "dagster.yaml")
    dagster_cli = [sys.executable, "-m", "dagster"]

    sensor = subprocess.run(
        [*dagster_cli, "sensor", "preview", "bronze_follows_sources", "-m", "orchestration.definitions"],
        cwd=PROJECT_ROOT, env=_environment(**dagster), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "water_methods: methods_2.xlsx" in sensor.stdout + sensor.stderr, sensor.stderr[-3000:]
    assert "returning run requests for 1 run" in sensor.stdout

    materialize = subprocess.run(
        [*dagster_cli, "asset", "materialize", "--select", "bronze/water_methods", "-m", "orchestration.definitions"],
        cwd=PROJECT_ROOT, env=_environment(**dagster), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert materialize.returncode == 0, materialize.stderr[-3000:]

    def landed() -> list:
        return _query(
            CLUSTER_ENV,
            'result = [list(r) for r in spark.sql("select b.batch_id, b.status, count(t._batch_id) '
            "from bronze.ingestion_batches b left join bronze.water_methods t on t._batch_id = b.batch_id "
            "where b.file_name = 'methods_2.xlsx' group by 1, 2 order by 1\").collect()]",
        )

    ((batch, status, rows),) = landed()
    assert (status, rows) == ("committed", methods)
    assert cluster_cli("rollback", "water_methods", batch).returncode == 0
    replay = cluster_cli("replay", "water_methods", batch)
    assert replay.returncode == 0, replay.stderr
    assert [(s, n) for _, s, n in landed()] == [("rolled_back", 0), ("committed", methods)]

    with _thrift("lakehouse", _secret("spark.token")) as thrift:
        cursor = thrift.cursor()
        cursor.execute("select count(*) from bronze.water_methods where _source_file = 'methods_2.xlsx'")
        assert cursor.fetchone() == (methods,)


def test_every_door_refuses_anonymous_and_wrong_credentials_and_keeps_each_login_to_its_scope(cluster):
    """Kafka wants its SASL user; Spark Connect the server's token; Thrift its service user (the
    token as password) or an admin of the users file; PostgreSQL a SCRAM password."""
    import psycopg
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaTimeoutError
    from thrift.transport.TTransport import TTransportException

    from lakehouse.serving.access import add_user

    for name in ("spark.token", "postgres.password"):
        assert (HOME / "secrets" / name).stat().st_mode & 0o777 == 0o600
    token = _secret("spark.token")

    # Kafka (the SASL user of the whole pipeline is admitted in every test above)
    wrong = {**KAFKA_LOGIN, "sasl_plain_password": "wrong"}
    for login in ({}, wrong):
        with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
            KafkaAdminClient(bootstrap_servers=BOOTSTRAP, bootstrap_timeout_ms=5000, **login)
    # The brokers say why, whatever the client makes of a connection closed on it.
    brokers_said = "".join(log.read_text() for log in (HOME / "logs").glob("kafka-*.log"))
    assert "during SASL handshake" in brokers_said  # the anonymous client
    assert "Failed authentication with /127.0.0.1" in brokers_said
    assert "Invalid username or password" in brokers_said

    # Spark Connect
    port = CLUSTER_ENV["LAKEHOUSE_CONNECT_PORT"]
    refusals = _query(
        CLUSTER_ENV,
        "from pyspark.sql import SparkSession\n"
        "def attempt(url):\n"
        "    try:\n"
        "        return SparkSession.builder.remote(url).create().range(3).count()\n"
        "    except Exception as error:\n"
        "        return str(error)\n"
        f"result = [attempt('sc://127.0.0.1:{port}'), attempt('sc://localhost:{port}/;token=wrong'), spark.range(7).count()]",
    )
    assert "No authentication token provided" in refusals[0]
    assert "Invalid authentication token" in refusals[1]
    assert refusals[2] == 7  # the project's own client, with the token it made

    # Thrift
    users = Path(CLUSTER_ENV["LAKEHOUSE_USERS_FILE"])
    add_user("ada", "admin", "ada-secret-1", users)
    add_user("vera", "viewer", "vera-secret-1", users)
    for user, password in ((None, None), ("lakehouse", "wrong"), ("ada", "vera-secret-1"), ("vera", "vera-secret-1")):
        with pytest.raises(TTransportException, match="Error validating the login"):
            _thrift(user, password)
    log = (HOME / "logs" / "spark.log").read_text()
    assert "Thrift login refused: vera (viewer) may not use Thrift: SQL on the warehouse is for admins" in log
    assert "Thrift login refused: unknown user or wrong password: ada" in log
    for user, password in (("lakehouse", token), ("ada", "ada-secret-1")):
        with _thrift(user, password) as thrift:
            cursor = thrift.cursor()
            cursor.execute("select count(*) from bronze.ingestion_batch_events")
            (events,) = cursor.fetchone()
            assert events == _query(CLUSTER_ENV, "result = spark.table('bronze.ingestion_batch_events').count()")

    # PostgreSQL
    if not _query(CLUSTER_ENV, "result = spark.catalog.tableExists('gold.agg_spend_by_customer')"):
        assert cluster_cli("build").returncode == 0  # run alone: gold as the pipeline's test leaves it
    published = cluster_cli("publish")
    assert published.returncode == 0, published.stdout[-3000:] + published.stderr[-3000:]
    for url in (_postgres_url("lakehouse", password=""), _postgres_url("lakehouse", password="wrong")):
        with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
            psycopg.connect(url.replace("lakehouse:@", "lakehouse@"), connect_timeout=10)
    with psycopg.connect(_postgres_url("lakehouse"), autocommit=True) as db:
        db.execute("drop role if exists vera_pg")
        db.execute("create role vera_pg login password 'vera-pg-secret' in role lakehouse_viewer")
        (customers,) = db.execute("select count(*) from gold.agg_spend_by_customer").fetchone()
        (names,) = db.execute("select count(distinct customer_name) from gold.agg_spend_by_customer").fetchone()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_postgres_url("lakehouse", "vera_pg", "wrong"), connect_timeout=10)
    with psycopg.connect(_postgres_url("lakehouse", "vera_pg", "vera-pg-secret"), autocommit=True) as db:
        seen = db.execute(
            "select count(*), count(distinct customer_name), bool_and(customer_name like 'masked:%') "
            "from gold_masked.agg_spend_by_customer"
        ).fetchone()
        assert seen == (customers, names, True if customers else None)
        for table in ("gold.agg_spend_by_customer", "bronze.ingestion_batches"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(f"select count(*) from {table}")


def test_a_broker_and_a_worker_lost_during_an_ingestion_lose_and_duplicate_nothing(cluster):
    from kafka import KafkaProducer

    before = _query(CLUSTER_ENV, "result = spark.table('bronze.sales').count()")
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", **KAFKA_LOGIN)
    sent = 60_000
    for n in range(sent):
        value = {
            "vente_id": 900_000 + n, "client_id": 1000 + n % 50, "produit_id": 101, "timestamp": "2026-11-01T10:00:00Z",
            "quantite": 1, "montant": "10.00", "client_nom": "Client", "segment": "Particulier", "pays": "FR",
        }  # fmt: skip
        producer.send("sales", key=f"k{n}".encode(), value=json.dumps(value).encode())
    producer.flush()
    producer.close()
    small_batches = {"LAKEHOUSE_INGEST_BATCH_MESSAGES": "10000"}
    assert cluster_cli("ingest", "sales", "--max-batches", "2", **small_batches).returncode == 0

    ingestion = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ingest", "sales"],
        cwd=PROJECT_ROOT,
        env=_environment(**small_batches),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(8)  # connected, and into its first batch of four
        for service in ("kafka-2", "spark-worker-2"):
            os.killpg(_pid(service), signal.SIGKILL)
        output, _ = ingestion.communicate(timeout=600)
    finally:
        if ingestion.poll() is None:
            os.killpg(ingestion.pid, signal.SIGKILL)
    if ingestion.returncode != 0:  # the next run records a batch the stopped one wrote, or plans it again
        resumed = cluster_cli("ingest", "sales")
        assert resumed.returncode == 0, output[-3000:] + resumed.stdout[-3000:]

    counts = _query(
        CLUSTER_ENV,
        'held = spark.sql("select _kafka_partition p, _kafka_offset o from bronze.sales union all '
        "select kafka_partition, kafka_offset from bronze.quarantine where source = 'sales'\")\n"
        "result = [held.count(), held.distinct().count(), spark.table('bronze.sales').count(), "
        "spark.sql(\"select count(*) - count(distinct batch_id) from bronze.ingestion_batch_events where source = 'sales'\")"
        ".first()[0]]",
    )
    offsets = _query(
        CLUSTER_ENV,
        "from ingestion import kafka_client\n"
        "consumer = kafka_client.consumer()\n"
        "result = sum(end - start for start, end in kafka_client.partition_offsets(consumer, 'sales').values())",
    )
    held, distinct, bronze_rows, second_events = counts
    assert held == distinct == offsets  # every message once: in bronze or in quarantine
    assert bronze_rows == before + sent
    assert second_events == 0  # one ledger event per batch
    assert "kafka-2: stopped" in cluster_cli("status").stdout
    restarted = cluster_cli("up")  # the lost processes come back
    assert restarted.returncode == 0, restarted.stdout[-3000:]
