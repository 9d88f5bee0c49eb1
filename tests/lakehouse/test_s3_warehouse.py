"""The warehouse on S3: s3a against the project's own S3 server (SeaweedFS, built from its Go
module), started by `lakehouse up` because `LAKEHOUSE_SPARK_WAREHOUSE` is `s3a://lakehouse/…`.
Sample data ingested and built there: every gold table has rows, and every table lies in the bucket.

Not in the default run (building SeaweedFS takes minutes the first time): `make test
PYTEST_ARGS="-m s3"` runs it alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from ingestion.config import PROJECT_ROOT
from lakehouse.settings import side_by_side_environment
from tests.lakehouse.conftest import fresh_services

pytestmark = pytest.mark.s3

S3_ENV = {
    **side_by_side_environment("s3"),  # beside the other lakehouses of the tests
    "LAKEHOUSE_CACHE": os.environ["LAKEHOUSE_CACHE"],
    "LAKEHOUSE_SPARK_WAREHOUSE": "s3a://lakehouse/warehouse",
    "LAKEHOUSE_INGEST_SETTLE_SECONDS": "0",
}
HOME = Path(S3_ENV["LAKEHOUSE_HOME"])
S3_ENV["DBT_TARGET_PATH"] = str(HOME / "dbt" / "target")
S3_ENV["DBT_LOG_PATH"] = str(HOME / "dbt" / "logs")
FILER = f"http://127.0.0.1:{int(S3_ENV['LAKEHOUSE_S3_PORT']) + 6}"


def s3_cli(*args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=PROJECT_ROOT,
        env={**base, **S3_ENV},
        capture_output=True,
        text=True,
        timeout=1800,
    )


def _bucket(path: str) -> list[str]:
    """Names in a folder of the bucket, as the S3 server's filer lists them."""
    request = urllib.request.Request(f"{FILER}/buckets/lakehouse/{path}/", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return sorted(Path(entry["FullPath"]).name for entry in json.load(answer)["Entries"] or [])


@pytest.fixture(scope="module")
def s3_lakehouse():
    with fresh_services(s3_cli, HOME):
        yield


def test_sample_data_is_ingested_and_built_into_the_s3_bucket(s3_lakehouse):
    assert "s3: running" in s3_cli("status").stdout
    assert s3_cli("generate", "--rows", "300").returncode == 0
    ingest = s3_cli("ingest")
    assert ingest.returncode == 0, ingest.stdout[-3000:] + ingest.stderr[-3000:]
    build = s3_cli("build")
    assert build.returncode == 0, build.stdout[-4000:]

    program = (
        "import json\nfrom ingestion.spark import connect\nfrom lakehouse.verify.checksums import gold_checksums\n"
        "spark = connect()\ngold = gold_checksums(spark)\n"
        "where = {t: spark.sql(f'describe detail {t}').first()['location'] for t in "
        "['bronze.transactions__all', 'bronze.sales__all', *(f'gold.{name}' for name, _, _ in gold)]}\n"
        "print('RESULT ' + json.dumps([gold, where]))\n"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT_ROOT, env={**base, **S3_ENV}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    gold, where = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert len(gold) == 13
    assert all(rows > 0 for _, rows, _ in gold), gold
    assert all(location.startswith("s3a://lakehouse/warehouse/") for location in where.values()), where
    assert where["bronze.sales__all"] == "s3a://lakehouse/warehouse/bronze.db/sales__all"
    assert "_delta_log" in _bucket("warehouse/bronze.db/sales__all")
    assert not (HOME / "warehouse").exists()  # nothing of the warehouse on the local disk
