"""Serving benchmark: prints figures, asserts nothing.

On one fresh data home holding the sample data, ingested and built (`lakehouse run`):
1. dashboard first paint in Chromium (first metric and first chart drawn), cold (a Streamlit
   process just started, empty caches) and warm (the same page again, a new browser tab);
2. REST API latency, p50 and p95, for a 100-row page of a gold table, with 1 and 10 concurrent
   clients, cached (the same page again) and uncached (every request a different page);
3. publishing all of gold and the ledger to PostgreSQL;
then, with `--scale 10`, the same publish on ten times the rows.

    make bench-serving                              # 20,000 records per source, then 10x
    .venv/bin/python benchmarks/serving.py --rows 3000 --scale 1
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from bench_env import BENCH_ENV, CLI, ROOT, fresh_home, stop_services, timed

API_PORT = int(BENCH_ENV["LAKEHOUSE_API_PORT"])
DASHBOARD_PORT = int(BENCH_ENV["LAKEHOUSE_DASHBOARD_PORT"])
TABLE = "/gold/agg_requests_by_status_hour"


def _background(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(timeout=60)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _chromium() -> str:
    import shutil

    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise SystemExit("Chromium is needed: `make browser` installs Debian's")
    return path


def dashboard_paint() -> tuple[float, float]:
    """(cold, warm) seconds from navigation to the first metric and chart of the commerce page."""
    from playwright.sync_api import sync_playwright

    server = _background("dashboard")
    try:
        _wait(f"http://127.0.0.1:{DASHBOARD_PORT}/_stcore/health")
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            )
            for _ in range(2):
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(f"http://127.0.0.1:{DASHBOARD_PORT}/", wait_until="domcontentloaded")
                page.wait_for_selector('[data-testid="stMetric"]', timeout=300_000)
                page.wait_for_selector(".js-plotly-plot", timeout=300_000)
                times.append(time.perf_counter() - started)
                page.close()
            browser.close()
        return times[0], times[1]
    finally:
        _stop(server)


def _latency(clients: int, requests_each: int, vary: bool) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for i in range(requests_each):
            offset = (number * requests_each + i) * 100 if vary else 0
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{API_PORT}{TABLE}?limit=100&offset={offset}", timeout=300):
                pass
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _p(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1] if len(values) > 1 else values[0]


def api_latency() -> list[tuple[str, int, float, float]]:
    server = _background("api")
    try:
        _wait(f"http://127.0.0.1:{API_PORT}/health")
        _latency(1, 3, vary=False)  # the first query opens the Spark session
        rows = []
        for clients in (1, 10):
            for vary in (False, True):
                latencies = _latency(clients, 20, vary)
                rows.append(("uncached" if vary else "cached", clients, _p(latencies, 0.5), _p(latencies, 0.95)))
        return rows
    finally:
        _stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="records per source")
    parser.add_argument("--scale", type=int, default=10, help="also publish at this many times the rows (1: skip)")
    args = parser.parse_args()
    publish = {}
    try:
        fresh_home()
        timed([*CLI, "run", "--rows", str(args.rows)])
        cold, warm = dashboard_paint()
        latencies = api_latency()
        timed([*CLI, "postgres", "start"])
        publish[args.rows] = timed([*CLI, "publish"])
        if args.scale > 1:
            fresh_home()
            timed([*CLI, "run", "--rows", str(args.rows * args.scale)])
            timed([*CLI, "postgres", "start"])
            publish[args.rows * args.scale] = timed([*CLI, "publish"])
    finally:
        stop_services()

    print(f"dashboard first paint (commerce page): cold {cold:.1f} s, warm {warm:.1f} s")
    print("\nREST API, 100-row page of gold.agg_requests_by_status_hour (20 requests per client):")
    print(f"  {'':<9} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for kind, clients, p50, p95 in latencies:
        print(f"  {kind:<9} {clients:>7} {p50 * 1000:>8.0f} {p95 * 1000:>8.0f}")
    print("\nPostgreSQL publish, all of gold and the ledger (`lakehouse publish`, process included):")
    for rows, seconds in publish.items():
        print(f"  {rows:>9,} records per source  {seconds:>6.1f} s")


if __name__ == "__main__":
    sys.exit(main())
