"""Realistic, deterministic sample data for every source, with a small share of planted defects.

The same seed always gives the same records. Defects are the kinds real feeds carry: a word where
a number belongs, a missing required field, a short CSV row, a line that is not a log line,
invalid JSON, bytes that are not UTF-8, and the same event delivered twice. Some defects are only
visible to silver's business rules (a negative quantity, an unknown currency or site, an ad event
type the ad server does not send): bronze keeps them, silver rejects them with a reason.
"""

from __future__ import annotations

import gzip
import json
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ingestion import kafka_client, storage
from lakehouse.samples.producer import produce
from lakehouse.settings import settings

DEFECT_RATE = 0.01
DUPLICATE_RATE = 0.005
START = datetime(2026, 11, 1, tzinfo=UTC)

PRODUCTS = {
    101: ("Ordinateur portable", "Électronique", 899.99),
    102: ("Smartphone", "Électronique", 599.00),
    103: ("Casque audio", "Électronique", 129.90),
    104: ("Cafetière", "Maison", 79.50),
    105: ("Aspirateur robot", "Maison", 349.00),
    106: ("Chaise de bureau", "Mobilier", 189.00),
    107: ("Bureau réglable", "Mobilier", 459.00),
    108: ("Livre de cuisine", "Livres", 24.90),
    109: ("Roman policier", "Livres", 12.50),
    110: ("Tapis de yoga", "Sport", 39.99),
    111: ("Haltères 10 kg", "Sport", 54.00),
    112: ("Montre connectée", "Électronique", 249.00),
}
COUNTRIES = ["France", "Belgique", "Suisse", "Canada", "Allemagne", "Espagne", " france ", "FR"]
PAYMENT_METHODS = ["card", "paypal", "bank_transfer", "gift_card"]
FIRST_NAMES = ["Jean", "Marie", "Luc", "Sophie", "Karim", "Léa", "Hugo", "Chloé", "Nadia", "Paul"]
LAST_NAMES = ["Dupont", "Martin", "Bernard", "Petit", "Durand", "Leroy", "Moreau", "Fournier"]
SEGMENTS = ["Particulier", "Professionnel", "Entreprise"]
PLATFORMS = ["twitter", "instagram", "facebook", "tiktok"]
PATHS = ["/", "/products", "/products/101", "/products/102", "/cart", "/checkout", "/api/search", "/login"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
]
DEVICE_TYPES = {"thermostat": "temperature", "meter": "consumption", "camera": "motion", "lock": "state"}


def _customer(rng: random.Random) -> tuple[int, str, str]:
    customer_id = rng.randint(1, 500)
    name_rng = random.Random(customer_id)
    name = f"{name_rng.choice(FIRST_NAMES)} {name_rng.choice(LAST_NAMES)}"
    return customer_id, name, SEGMENTS[customer_id % len(SEGMENTS)]


def transactions(rng: random.Random, count: int) -> Iterator[list[str]]:
    """CSV rows (without header) of order lines; a defect is a bad value or a short row."""
    for n in range(count):
        product_id = rng.choice(list(PRODUCTS))
        at = START + timedelta(seconds=rng.randint(0, 30 * 86400))
        row = [
            f"T{n + 1:08d}",
            f"C{_customer(rng)[0]:05d}",
            str(product_id),
            str(rng.choices([1, 2, 3, 4, 5], [60, 20, 10, 6, 4])[0]),
            f"{PRODUCTS[product_id][2]:.2f}",
            rng.choices(["EUR", "USD", "CHF"], [85, 10, 5])[0],
            at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            rng.choice(COUNTRIES),
            rng.choice(PAYMENT_METHODS),
            rng.choices(["completed", "refunded", "cancelled"], [90, 5, 5])[0],
        ]
        if rng.random() < DEFECT_RATE:
            defect = rng.choice(["quantity", "customer", "short", "negative", "currency"])
            if defect == "quantity":
                row[3] = "abc"
            elif defect == "negative":
                row[3] = "-1"
            elif defect == "currency":
                row[5] = "XYZ"
            elif defect == "customer":
                row[1] = ""
            else:
                row = row[:6]
        yield row
        if rng.random() < DUPLICATE_RATE:
            yield row  # the same order line exported twice


def server_logs(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        at = START + timedelta(seconds=rng.randint(0, 30 * 86400))
        if rng.random() < DEFECT_RATE:
            yield rng.choice(["-- log rotated --", "GET /index.html", "\x00\x00garbage"])
            continue
        if rng.random() < DEFECT_RATE / 2:  # a TLS handshake sent to the HTTP port: logged, but not a request
            yield (
                f"10.0.0.{rng.randint(1, 254)} - - [{at.strftime('%d/%b/%Y:%H:%M:%S +0000')}] "
                r'"\x16\x03\x01\x00\xca\x01" 400 166 "-" "-"'
            )
            continue
        status = rng.choices([200, 201, 301, 304, 400, 401, 403, 404, 500, 503], [70, 3, 3, 5, 3, 2, 1, 8, 3, 2])[0]
        method = rng.choices(["GET", "POST", "PUT", "DELETE"], [80, 15, 3, 2])[0]
        size = "-" if status in (301, 304) else str(rng.randint(200, 50_000))
        referrer = rng.choice(["-", "https://www.example.com/", "https://search.example.org/?q=laptop"])
        yield (
            f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} - - "
            f'[{at.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "{method} {rng.choice(PATHS)} HTTP/1.1" '
            f'{status} {size} "{referrer}" "{rng.choice(AGENTS)}"'
        )


def social_posts(rng: random.Random, count: int) -> Iterator[dict | str]:
    for n in range(count):
        user = f"u{rng.randint(1, 2000):05d}"
        post = {
            "post_id": f"P{n + 1:08d}",
            "user_id": user,
            "product_id": rng.choice(list(PRODUCTS)),
            "platform": rng.choice(PLATFORMS) if rng.random() >= DEFECT_RATE / 2 else "myspace",
            "likes": rng.randint(0, 5000),
            "shares": rng.randint(0, 400),
            "comments": rng.randint(0, 300),
            "text": rng.choice(["J'adore !", "Livraison rapide", "Déçu par la qualité", "Super rapport qualité/prix"]),
            "posted_at": (START + timedelta(seconds=rng.randint(0, 30 * 86400))).isoformat(),
            "author": {"handle": f"@{user}", "followers": rng.randint(0, 100_000), "verified": rng.random() < 0.05},
            "hashtags": rng.sample(["promo", "tech", "maison", "sport", "unboxing", "avis"], rng.randint(0, 3)),
        }
        if rng.random() < 0.1:
            post["lang"] = "fr"  # an extra field the schema does not know: kept in the raw record
        if rng.random() < DEFECT_RATE:
            defect = rng.choice(["likes", "missing", "invalid"])
            if defect == "likes":
                post["likes"] = "many"
            elif defect == "missing":
                del post["post_id"]
            else:
                yield '{"post_id": "broken", "likes": '
                continue
        yield post


def water_sites(rng: random.Random, count: int = 24) -> list[dict]:
    regions = ["Bretagne", "Occitanie", "Grand Est", "Normandie", "Auvergne-Rhône-Alpes", "Hauts-de-France"]
    bodies = ["river", "lake", "groundwater", "reservoir", "coastal"]
    return [
        {
            "site_id": f"S{n + 1:03d}",
            "name": f"Station {n + 1:03d}",
            "region": rng.choice(regions),
            "latitude": round(rng.uniform(42.5, 51.0), 5),
            "longitude": round(rng.uniform(-4.5, 7.5), 5),
            "water_body_type": rng.choice(bodies),
        }
        for n in range(count)
    ]


WATER_METHODS = [
    {
        "method_id": "M01",
        "parameter": "nitrate",
        "unit": "mg/L",
        "analytical_method": "ion chromatography",
        "detection_limit": 0.5,
    },
    {
        "method_id": "M02",
        "parameter": "phosphate",
        "unit": "mg/L",
        "analytical_method": "spectrophotometry",
        "detection_limit": 0.02,
    },
    {"method_id": "M03", "parameter": "ph", "unit": "pH", "analytical_method": "electrode", "detection_limit": 0.0},
    {
        "method_id": "M04",
        "parameter": "dissolved_oxygen",
        "unit": "mg/L",
        "analytical_method": "optical sensor",
        "detection_limit": 0.1,
    },
    {
        "method_id": "M05",
        "parameter": "turbidity",
        "unit": "NTU",
        "analytical_method": "nephelometry",
        "detection_limit": 0.05,
    },
    {"method_id": "M06", "parameter": "lead", "unit": "µg/L", "analytical_method": "ICP-MS", "detection_limit": 0.1},
    {
        "method_id": "M07",
        "parameter": "e_coli",
        "unit": "CFU/100mL",
        "analytical_method": "membrane filtration",
        "detection_limit": 1.0,
    },
    {
        "method_id": "M08",
        "parameter": "temperature",
        "unit": "°C",
        "analytical_method": "thermistor",
        "detection_limit": 0.0,
    },
]
_TYPICAL = {  # mean and standard deviation, by method
    "M01": (12, 5), "M02": (0.3, 0.12), "M03": (7.4, 0.6), "M04": (8.5, 1.5), "M05": (3, 1.2), "M06": (2, 0.8),
    "M07": (40, 16), "M08": (14, 5),
}  # fmt: skip
_IMPOSSIBLE = {"M03": 15.2, "M04": 96.0, "M08": 212.0}
"""Now and then a sensor sends what no water holds: a pH over 14, a dissolved-oxygen saturation (%) as mg/L,
a temperature in °F as °C."""


# -- Kafka messages: JSON values, sometimes deliberately broken ---------------------------------
def _poison(rng: random.Random) -> bytes | None:
    """A defect for a Kafka message, or None for a good one."""
    if rng.random() >= DEFECT_RATE:
        return None
    return rng.choice([b"\xff\xfe\x00 not utf-8", b'{"truncated": ', b"plain text, not JSON", b"[1, 2, 3]"])


def one_sale(sale_id: int, day: date) -> bytes:
    """A valid sale on `day` (a laptop bought at noon, Paris time): one row of its own in
    `gold.agg_sales_by_product_day` when the day is far from the sample data's."""
    sale = {
        "vente_id": sale_id, "client_id": 7, "produit_id": 101, "timestamp": f"{day}T12:00:00", "quantite": 1,
        "montant": PRODUCTS[101][2], "client_nom": "Jean Dupont", "produit_nom": PRODUCTS[101][0],
        "categorie": PRODUCTS[101][1], "pays": "France", "segment": "Particulier",
    }  # fmt: skip
    return encode(sale)


def ad_events(rng: random.Random, count: int) -> Iterator[dict | bytes]:
    for n in range(count):
        if (poison := _poison(rng)) is not None:
            yield poison
            continue
        clicked = rng.random() < 0.04
        event = {
            "event_id": f"E{n + 1:09d}",
            # Now and then a campaign the marketing plan (the `campaigns` seed) does not list.
            "campaign_id": f"CMP{rng.randint(1, 12) if rng.random() >= DEFECT_RATE / 2 else 99:03d}",
            "ad_id": f"AD{rng.randint(1, 60):04d}",
            "event_type": ("click" if clicked else "impression") if rng.random() >= DEFECT_RATE / 2 else "view",
            "user_id": f"u{rng.randint(1, 20000):06d}",
            "cost": round(rng.uniform(0.2, 2.5), 4) if clicked else round(rng.uniform(0.001, 0.01), 4),
            "event_timestamp": (START + timedelta(milliseconds=rng.randint(0, 30 * 86_400_000))).isoformat(),
        }
        if rng.random() < DEFECT_RATE:
            event["cost"] = "free"
        yield event
        if rng.random() < DUPLICATE_RATE:
            yield event  # delivered twice


def sales(rng: random.Random, count: int) -> Iterator[dict | bytes]:
    """The sales stream in exactly the producers' shape (French field names)."""
    for n in range(count):
        if (poison := _poison(rng)) is not None:
            yield poison
            continue
        client_id, client_nom, segment = _customer(rng)
        produit_id = rng.choice(list(PRODUCTS))
        produit_nom, categorie, prix = PRODUCTS[produit_id]
        quantite = rng.choices([1, 2, 3], [70, 20, 10])[0]
        vente = {
            "vente_id": n + 1,
            "client_id": client_id,
            "produit_id": produit_id,
            "timestamp": (START + timedelta(seconds=rng.randint(0, 30 * 86400))).strftime("%Y-%m-%dT%H:%M:%S"),
            "quantite": quantite,
            "montant": round(prix * quantite, 2),
            "client_nom": client_nom,
            "produit_nom": produit_nom,
            "categorie": categorie,
            "pays": rng.choice(COUNTRIES).strip(),
            "segment": segment,
        }
        if rng.random() < DEFECT_RATE:
            del vente["montant"]
        elif rng.random() < DEFECT_RATE / 2:
            vente["quantite"] = 0
        yield vente
        if rng.random() < DUPLICATE_RATE:
            yield vente


def water_quality(rng: random.Random, count: int, sites: int = 24) -> Iterator[dict | bytes]:
    """Most stations send their laboratory's sample code (and now and then re-send a measurement);
    some send none, and two of their samples may carry the same values (under the detection limit)."""
    for n in range(count):
        if (poison := _poison(rng)) is not None:
            yield poison
            continue
        method = rng.choice(WATER_METHODS)
        mean, deviation = _TYPICAL[method["method_id"]]
        value = max(0.0, rng.gauss(mean, deviation))
        if method["detection_limit"] and rng.random() < 0.05:
            value = method["detection_limit"] / 2  # below the detection limit
        if method["method_id"] in _IMPOSSIBLE and rng.random() < DEFECT_RATE:
            value = _IMPOSSIBLE[method["method_id"]]
        unit = method["unit"]
        if unit == "mg/L" and rng.random() < 0.02:  # some stations report in µg/L
            value, unit = value * 1000, "µg/L"
        site = rng.randint(1, sites) if rng.random() >= DEFECT_RATE / 2 else 999  # not a site of the network
        measurement = {
            "sample_id": f"P{n + 1:08d}" if rng.random() < 0.9 else None,
            "site_id": f"S{site:03d}",
            "method_id": method["method_id"],
            "sample_date": (START.date() - timedelta(days=rng.randint(0, 365))).isoformat(),
            "parameter": method["parameter"],
            "value": round(value, 4),
            "unit": unit,
            "flags": rng.choices(["", "<LQ", "estimated", "validated"], [80, 5, 5, 10])[0],
        }
        if measurement["sample_id"] is None:
            del measurement["sample_id"]
        yield measurement
        if "sample_id" in measurement and rng.random() < DUPLICATE_RATE:
            yield measurement  # re-sent


def device_events(rng: random.Random, count: int) -> Iterator[dict | bytes]:
    for _ in range(count):
        if (poison := _poison(rng)) is not None:
            yield poison
            continue
        device_type = rng.choice(list(DEVICE_TYPES))
        yield {
            "device_id": f"{device_type[:3].upper()}-{rng.randint(1, 300):04d}",
            "device_type": device_type,
            "event_type": rng.choice([DEVICE_TYPES[device_type], "heartbeat", "error"]),
            "value": round(rng.uniform(0, 100), 3),
            "event_timestamp": (START + timedelta(milliseconds=rng.randint(0, 7 * 86_400_000))).isoformat(),
        }


TOPIC_GENERATORS = {
    "ad_events": ad_events,
    "sales": sales,
    "water_quality": water_quality,
    "device_events": device_events,
}

TRANSACTIONS_HEADER = [
    "transaction_id", "customer_id", "product_id", "quantity", "unit_price",
    "currency", "transaction_timestamp", "country", "payment_method", "status",
]  # fmt: skip


def encode(message: dict | bytes) -> bytes:
    return message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False).encode("utf-8")


def write_landing_files(landing: Path, seed: int, rows: int, files: int = 3) -> dict[str, list[Path]]:
    """Write every file source's sample data into the landing zone; return the files written."""
    import csv

    from openpyxl import Workbook

    rng = random.Random(seed)
    written: dict[str, list[Path]] = {}
    per_file = max(1, rows // files)

    folder = landing / "transactions"
    folder.mkdir(parents=True, exist_ok=True)
    records = transactions(rng, rows)
    for index in range(files):
        day = (START + timedelta(days=index)).date()
        path = folder / f"transactions_{day}.csv"
        delimiter = ";" if index % 2 else ","
        encoding = "utf-8-sig" if index == 1 else "utf-8"
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(TRANSACTIONS_HEADER)
            take = per_file if index < files - 1 else None
            for n, row in enumerate(records):
                writer.writerow(row)
                if take is not None and n + 1 >= take:
                    break
        written.setdefault("transactions", []).append(path)

    folder = landing / "server_logs"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        suffix = ".log.gz" if index == 0 else ".log"
        path = folder / f"access_{index + 1:02d}{suffix}"
        opener = gzip.open if suffix.endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8") as handle:
            for line in server_logs(rng, per_file):
                handle.write(line + "\n")
        written.setdefault("server_logs", []).append(path)

    folder = landing / "social_posts"
    folder.mkdir(parents=True, exist_ok=True)
    posts = list(social_posts(rng, rows))
    half = len(posts) // 2
    lines_path = folder / "posts_stream.jsonl"
    with lines_path.open("w", encoding="utf-8") as handle:
        for post in posts[:half]:
            handle.write((post if isinstance(post, str) else json.dumps(post, ensure_ascii=False)) + "\n")
    array_path = folder / "posts_export.json"
    with array_path.open("w", encoding="utf-8") as handle:
        json.dump([p for p in posts[half:] if isinstance(p, dict)], handle, ensure_ascii=False, indent=1)
    written["social_posts"] = [lines_path, array_path]

    for name, records_of in (("water_sites", water_sites(rng)), ("water_methods", WATER_METHODS)):
        folder = landing / name
        folder.mkdir(parents=True, exist_ok=True)
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = name
        header = list(records_of[0])
        sheet.append(header)
        for record in records_of:
            sheet.append([record[column] for column in header])
        path = folder / f"{name}.xlsx"
        workbook.save(path)
        written[name] = [path]
    return written


def topic_is_empty(topic: str) -> bool:
    consumer = kafka_client.consumer()
    try:
        return all(begin == end for begin, end in kafka_client.partition_offsets(consumer, topic).values())
    finally:
        consumer.close()


def generate(rows: int, seed: int, files: bool, topics: bool, rate: float | None, only_if_empty: bool) -> None:
    """Sample data for every source: files into the landing zone, messages into the topics."""
    landing = storage.folder(settings().landing)
    if files and only_if_empty and landing.files():
        # Written again, the gzip headers and workbooks would differ in their timestamps: new file
        # versions for the ingestion, with nothing new in them.
        print(f"{landing.url} already holds files; not writing more")
    elif files:
        settled = time.time() - settings().ingest_settle_seconds - 1  # complete by construction
        settings().tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings().tmp_dir) as scratch:
            written = write_landing_files(Path(scratch), seed, rows)
            for paths in written.values():
                for path in paths:
                    landing.put(path, path.relative_to(scratch).as_posix(), mtime=settled)
        total = sum(len(paths) for paths in written.values())
        print(f"wrote {total} sample files into {landing.url}")
    if topics:
        for offset, (topic, generator) in enumerate(TOPIC_GENERATORS.items()):
            if only_if_empty and not topic_is_empty(topic):
                print(f"{topic}: already holds messages; not producing more")
                continue
            rng = random.Random(seed + offset + 1)
            sent = produce(topic, (encode(m) for m in generator(rng, rows)), total=rows, rate=rate)
            print(f"{topic}: produced {sent} messages")
