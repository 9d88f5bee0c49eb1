"""`lakehouse api`: a read-only REST API over gold, the silver tables clients want, the ledger and the
quarantine (FastAPI, OpenAPI docs at /docs).

Every table is one endpoint (`GET /gold/agg_sales_by_product`, `GET /silver/transactions`, ...):
- filters on its documented columns: `?country=France`, ranges with `__gte`, `__lte`, `__gt`, `__lt`
  (`?sold_on__gte=2026-11-01`);
- `sort=column` or `sort=-column` (descending), several separated by commas;
- `limit` (default 100, at most 1000) and `offset` for pages; the answer says the total and the next page;
- `format=json` (default) or `format=csv`.
Queries are built with Spark's DataFrame API from the catalog's column names: nothing a client sends
becomes SQL text.

Who may read what (lakehouse/serving/access.py): with users in LAKEHOUSE_USERS_FILE every endpoint
but /health wants HTTP Basic credentials of one of them; a viewer reads gold, an analyst also silver,
an admin also the ledger and the quarantine, and personal columns reach only admins unmasked. With
no user, the API is open on 127.0.0.1 and every reader is an admin.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from ingestion.batch_status import BatchStatus
from ingestion.network import Port, port_answers
from lakehouse.operations.metrics import registry
from lakehouse.serving.access import OPEN, Authenticator, User, may_read, personal, readable_frame, refusal
from lakehouse.serving.catalog import ServedTable, served_tables
from lakehouse.serving.export import utc
from lakehouse.settings import settings

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
OPERATORS = {"gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}
RESERVED = {"limit", "offset", "sort", "format"}
CACHE_SECONDS = 10.0


class BadRequest(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=400, detail=detail)


class _Spark:
    """One Spark Connect session for the process, opened on first use and again if it broke."""

    def __init__(self) -> None:
        self._session = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._session is None:
                from ingestion.spark import connect

                self._session = connect()
            return self._session

    def reset(self) -> None:
        with self._lock:
            self._session = None


_spark = _Spark()
_cache: dict[tuple, tuple[float, Any]] = {}


def _parse(value: str, kind: str, column: str) -> object:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return Decimal(value)
        if kind == "date":
            return date.fromisoformat(value)
        if kind == "timestamp":
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if kind == "boolean":
            if value.lower() not in ("true", "false"):
                raise ValueError
            return value.lower() == "true"
    except (ValueError, InvalidOperation):
        raise BadRequest(f"{column}: {value!r} is not a valid {kind}") from None
    return value


def _query(
    served: ServedTable, params: dict[str, str]
) -> tuple[list[tuple[str, str, object]], list[tuple[str, bool]], int, int]:
    """Validate a request's parameters against the table's columns: (filters, sort, limit, offset)."""
    filters = []
    for key, value in params.items():
        if key in RESERVED:
            continue
        name, _, op = key.partition("__")
        column = served.column(name)
        if column is None or (op and op not in OPERATORS):
            raise BadRequest(
                f"unknown filter {key!r}; filter on a column ({', '.join(served.column_names)}), "
                f"optionally with __{', __'.join(OPERATORS)}"
            )
        filters.append((name, OPERATORS.get(op, "="), _parse(value, column.kind, name)))
    sort = []
    for item in filter(None, params.get("sort", "").split(",")):
        name = item.lstrip("-")
        if served.column(name) is None:
            raise BadRequest(f"cannot sort on {name!r}; sortable columns: {', '.join(served.column_names)}")
        sort.append((name, item.startswith("-")))
    limit = _bounded(params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _bounded(params.get("offset"), "offset", 0, 0, MAX_OFFSET)
    return filters, sort, limit, offset


def _bounded(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, not {value}")
    return value


def _cached(key: tuple, compute):
    """`compute()`, or its result from the last CACHE_SECONDS for the same key."""
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    result = compute()
    if len(_cache) > 1000:
        _cache.clear()
    _cache[key] = (time.monotonic(), result)
    return result


def _rows(served: ServedTable, user: User, filters, sort, limit: int, offset: int) -> tuple[int, list[dict]]:
    from pyspark.sql import functions as F

    columns = _spark.get().table(served.table).select(*[F.col(f"`{c}`") for c in served.column_names])
    # Masked before any filter or sort: a reader below admin filters and sorts on the masked values.
    frame = readable_frame(columns, served.table, user)
    for name, op, value in filters:
        column = F.col(f"`{name}`")
        condition = {
            "=": column == value,
            ">=": column >= value,
            "<=": column <= value,
            ">": column > value,
            "<": column < value,
        }[op]
        frame = frame.where(condition)
    ordering = [F.col(f"`{n}`").desc_nulls_last() if desc else F.col(f"`{n}`").asc_nulls_first() for n, desc in sort]
    # Without a sort, pages follow every column so that page 2 never repeats page 1.
    ordering = ordering or [F.col(f"`{c}`").asc_nulls_first() for c in served.column_names]

    def page() -> list[dict]:
        rows = frame.orderBy(*ordering).offset(offset).limit(limit).collect()
        return [{c: _json_value(v) for c, v in zip(served.column_names, row, strict=True)} for row in rows]

    # The total is shared by every page of the same filters: a client paging through asks it once.
    view = (served.table, user.role.unmasked)
    total = _cached(("count", *view, tuple(filters)), frame.count)
    return total, _cached(("page", *view, tuple(filters), tuple(sort), limit, offset), page)


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _csv(columns: list[str], records: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    return out.getvalue()


_basic = HTTPBasic(auto_error=False)
_authenticator: Authenticator | None = None


def reader(credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]) -> User:
    """The user a request comes from: 401, with one line saying why, when it names none of the users file."""
    global _authenticator
    if _authenticator is None:
        _authenticator = Authenticator()
    if _authenticator.open:
        return OPEN
    challenge = {"WWW-Authenticate": 'Basic realm="lakehouse"'}
    if credentials is None:
        raise HTTPException(401, "credentials required: HTTP Basic with a user of the lakehouse", headers=challenge)
    user = _authenticator.user(credentials.username, credentials.password)
    if user is None:
        raise HTTPException(401, "wrong user name or password", headers=challenge)
    return user


Reader = Annotated[User, Depends(reader)]


_typed_tables: dict[str, ServedTable] = {}


def _typed(served: ServedTable) -> ServedTable:
    """Silver docs name their columns without types: the table's schema gives them (asked once)."""
    if served.typed:
        return served
    if served.path not in _typed_tables:
        schema = _spark.get().table(served.table).schema
        _typed_tables[served.path] = served.with_types({f.name: f.dataType.simpleString() for f in schema.fields})
    return _typed_tables[served.path]


def _endpoint(documented: ServedTable):
    def read(request: Request, user: Reader) -> Response:
        if not may_read(user, documented.table):
            raise HTTPException(status_code=403, detail=refusal(user, documented.table))
        params = dict(request.query_params)
        fmt = params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise BadRequest(f"format must be json or csv, not {fmt!r}")
        try:
            served = _typed(documented)
        except Exception as error:
            _spark.reset()
            raise HTTPException(
                status_code=503, detail=f"the lakehouse could not answer: {_first_line(error)}"
            ) from None
        filters, sort, limit, offset = _query(served, params)
        try:
            total, records = _rows(served, user, filters, sort, limit, offset)
        except Exception as error:  # the Spark server restarted or is down: say so, try afresh next time
            _spark.reset()
            raise HTTPException(
                status_code=503, detail=f"the lakehouse could not answer: {_first_line(error)}"
            ) from None
        if fmt == "csv":
            return Response(_csv(served.column_names, records), media_type="text/csv; charset=utf-8")
        following = offset + limit if offset + limit < total else None
        return JSONResponse(
            {
                "table": served.table,
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_offset": following,
                "rows": records,
            }
        )

    columns = "\n".join(f"- `{c.name}`: {c.description}" for c in documented.columns)
    read.__doc__ = f"{documented.description}\n\nColumns (filter with `?column=value`, `__gte`, `__lte`, `__gt`, `__lt`; sort with `sort=-column`):\n\n{columns}"
    return read


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _freshness() -> list[dict]:
    rows = (
        _spark.get()
        .sql(
            "select source, max(finished_at) as last_batch_at, sum(rows_good) as rows_landed "
            f"from bronze.ingestion_batches where status = '{BatchStatus.COMMITTED}' group by source order by source"
        )
        .collect()
    )
    now = datetime.now().astimezone()
    return [
        {
            "source": r.source,
            "last_batch_at": utc(r.last_batch_at).isoformat() if r.last_batch_at else None,
            "age_seconds": round((now - r.last_batch_at.astimezone()).total_seconds()) if r.last_batch_at else None,
            "rows_landed": r.rows_landed,
        }
        for r in rows
    ]


def create_app() -> FastAPI:
    app = FastAPI(
        title="Lakehouse API",
        description=__doc__,
        version="1",
        # Read-only: only GET routes exist.
    )

    @app.exception_handler(HTTPException)
    def _error(_: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.get("/health", tags=["operations"])
    def health() -> JSONResponse:
        """Whether the services answer, and how fresh each source's bronze table is."""
        s = settings()
        services = {
            "spark_connect": port_answers(Port("Spark Connect", s.spark_host, s.connect_port)),
            "spark_thrift": port_answers(Port("Thrift", s.spark_host, s.thrift_port)),
            "kafka": any(port_answers(Port("Kafka", s.kafka_host, port)) for port in s.kafka_ports),
        }
        try:
            freshness = _freshness() if services["spark_connect"] else []
        except Exception as error:
            _spark.reset()
            services["spark_connect"] = False
            freshness, note = [], _first_line(error)
        else:
            note = None
        ok = services["spark_connect"]
        body = {"status": "ok" if ok else "degraded", "services": services, "freshness": freshness}
        if note:
            body["error"] = note
        return JSONResponse(body, status_code=200 if ok else 503)

    metrics_registry = registry(_spark.get)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics(_: Reader) -> Response:
        """The lakehouse's metrics in Prometheus' text format: per source the last batch's age, rows, bad rows
        and duration, batches by status and the consumer lag (messages, seconds); the last build's duration,
        models and failed tests; whether each service answers."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        try:
            body = generate_latest(metrics_registry)
        except Exception as error:
            _spark.reset()
            raise HTTPException(status_code=503, detail=f"the lakehouse did not answer: {_first_line(error)}") from None
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/tables", tags=["catalog"])
    def tables(user: Reader) -> dict:
        """Every endpoint the caller may read, with its table, description and columns (`personal`:
        masked below admin)."""
        return {
            path: {
                "table": t.table,
                "description": t.description,
                "columns": [
                    {
                        "name": c.name,
                        "type": c.data_type,
                        "description": c.description,
                        "personal": c.name in personal(t.table),
                    }
                    for c in t.columns
                ],
            }
            for path, t in served_tables().items()
            if may_read(user, t.table)
        }

    for path, served in served_tables().items():
        tag = path.split("/")[0] if "/" in path else "operations"
        app.add_api_route(
            f"/{path}",
            _endpoint(served),
            methods=["GET"],
            tags=[tag],
            name=path.replace("/", "_"),
            summary=served.table,
            openapi_extra={"parameters": _documented_parameters(served)},
        )
    return app


def _documented_parameters(served: ServedTable) -> list[dict]:
    """The query parameters as OpenAPI lists them (the handler validates them itself)."""

    def query(name: str, description: str, schema: dict) -> dict:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    return [
        query("limit", f"rows per page, 1 to {MAX_LIMIT}", {"type": "integer", "default": DEFAULT_LIMIT}),
        query("offset", "rows to skip", {"type": "integer", "default": 0}),
        query("sort", "columns, comma-separated; `-column` for descending", {"type": "string"}),
        query("format", "json or csv", {"type": "string", "enum": ["json", "csv"], "default": "json"}),
        *(
            query(c.name, f"equal to (ranges: `{c.name}__gte`, `__lte`, `__gt`, `__lt`)", {"type": "string"})
            for c in served.columns
        ),
    ]


def serve(port: int | None = None) -> None:
    import uvicorn

    port = port or settings().api_port
    print(f"REST API on http://127.0.0.1:{port} (OpenAPI docs on /docs; Ctrl-C stops it)", flush=True)
    if Authenticator().open:
        print(f"no user in {settings().users_file}: open to anyone on 127.0.0.1 (`lakehouse users add`)", flush=True)
    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")
