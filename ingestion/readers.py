"""Split landing-zone files into records, one generator per format, in bounded memory.

A reader yields `Record`s: the raw text of one record, its fields as strings where the format
defines them (CSV, logs, Excel), or an error when the record cannot even be split (wrong column
count, undecodable bytes, unparseable log line). Typing and validation happen later, in Spark,
for every source alike (see `validation.py`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ingestion.sources import Source


@dataclass(frozen=True)
class Record:
    position: int
    """1-based line number in the file (CSV: the line the record starts on; Excel: the row)."""
    raw: str
    fields: dict[str, str | None] | None = None
    error: str | None = None


def normalise_header(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _canonical_names(source: Source) -> dict[str, str]:
    names = {}
    for field in source.fields:
        for name in (field.name, *field.aliases):
            names[normalise_header(name)] = field.name
    return names


def _has_undecodable(text: str) -> bool:
    # Bytes that are not UTF-8 survive decoding as lone surrogates (errors="surrogateescape").
    return any("\udc80" <= ch <= "\udcff" for ch in text)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""C0 control characters other than tab, newline and carriage return: binary content, not text."""


def _control_character(text: str) -> str | None:
    """The first control character in `text`, as `U+0000`, or None."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115 (closed by the wrapper)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")


def read_records(source: Source, path: Path) -> Iterator[Record]:
    readers = {"csv": read_csv, "combined_log": read_combined_log, "json": read_json, "xlsx": read_xlsx}
    return readers[source.format](source, path)


def read_csv(source: Source, path: Path) -> Iterator[Record]:
    with _open_text(path) as text:
        first = text.readline()
        header_line = first.removeprefix("\ufeff")
        delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        header = next(csv.reader([header_line], delimiter=delimiter))
        canonical = _canonical_names(source)
        columns = [canonical.get(normalise_header(name), normalise_header(name)) for name in header]
        consumed: list[str] = []

        def lines() -> Iterator[str]:
            for physical_line in text:
                consumed.append(physical_line)
                yield physical_line

        reader = csv.reader(lines(), delimiter=delimiter, quotechar='"')
        line = 1
        for row in reader:
            start, line = line + 1, reader.line_num + 1
            raw = "".join(consumed).rstrip("\r\n")
            consumed.clear()
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if any(_has_undecodable(value) for value in row):
                yield Record(start, _printable(raw), error="undecodable bytes (the file is not UTF-8)")
            elif control := next(
                (
                    (name, char)
                    for name, value in zip(columns, row, strict=False)
                    if (char := _control_character(value))
                ),
                None,
            ):
                yield Record(start, _printable(raw), error=f"control character {control[1]} in field {control[0]}")
            elif len(row) != len(columns):
                yield Record(start, raw, error=f"expected {len(columns)} columns, found {len(row)}")
            else:
                yield Record(start, raw, fields=dict(zip(columns, row, strict=True)))


_COMBINED = re.compile(
    r"^(?P<client_ip>\S+) \S+ (?P<remote_user>\S+) \[(?P<requested_at>[^\]]+)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes_sent>\d+|-)'
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<user_agent>(?:[^"\\]|\\.)*)")?\s*$'
)


def read_combined_log(source: Source, path: Path) -> Iterator[Record]:
    with _open_text(path) as text:
        for number, line in enumerate(text, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if _has_undecodable(line):
                yield Record(number, _printable(line), error="undecodable bytes (the line is not UTF-8)")
                continue
            if control := _control_character(line):
                yield Record(number, line, error=f"control character {control} in the line")
                continue
            match = _COMBINED.match(line)
            if match is None:
                yield Record(number, line, error="not a combined log format line")
                continue
            fields = {name: (None if value in (None, "-") else value) for name, value in match.groupdict().items()}
            yield Record(number, line, fields=fields)


def read_json(source: Source, path: Path) -> Iterator[Record]:
    """JSON lines, or one top-level array read element by element (never whole into memory)."""
    with _open_text(path) as text:
        head = text.read(1)
        while head and head.isspace() or head == "\ufeff":
            head = text.read(1)
        if head == "[":
            yield from _json_array_elements(text)
            return
        yield from _json_line(1, head + text.readline())
        for number, line in enumerate(text, start=2):
            yield from _json_line(number, line)


def _json_line(number: int, line: str) -> Iterator[Record]:
    line = line.strip()
    if not line:
        return
    if _has_undecodable(line):
        yield Record(number, _printable(line), error="undecodable bytes (the line is not UTF-8)")
    else:
        yield Record(number, line)  # parsed and checked in Spark


def _json_array_elements(text: io.TextIOBase, chunk_size: int = 1 << 16) -> Iterator[Record]:
    decoder = json.JSONDecoder()
    buffer, line, ended = "", 1, False
    while True:
        if not ended and len(buffer) < chunk_size:
            chunk = text.read(chunk_size)
            ended = not chunk
            buffer += chunk
        stripped = buffer.lstrip(" \t\r\n,")
        line += buffer[: len(buffer) - len(stripped)].count("\n")
        buffer = stripped
        if buffer.startswith("]") or (ended and not buffer):
            return
        try:
            _, end = decoder.raw_decode(buffer)
        except json.JSONDecodeError as error:
            if not ended:
                chunk = text.read(chunk_size)
                if chunk:
                    buffer += chunk
                    continue
                ended = True
            yield Record(line, _printable(buffer[:2000]), error=f"invalid JSON in the array: {error.msg}")
            return
        element = buffer[:end]
        if _has_undecodable(element):
            yield Record(line, _printable(element), error="undecodable bytes (the file is not UTF-8)")
        else:
            yield Record(line, element)
        line += element.count("\n")
        buffer = buffer[end:]


def read_xlsx(source: Source, path: Path) -> Iterator[Record]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook[source.sheet] if source.sheet else workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        canonical = _canonical_names(source)
        header = next(rows, None) or ()
        columns = [
            canonical.get(normalise_header(str(name or "")), normalise_header(str(name or ""))) for name in header
        ]
        for number, row in enumerate(rows, start=2):
            values = [_cell_text(value) for value in row]
            if all(value is None for value in values):
                continue
            fields = dict(zip(columns, values, strict=False))
            raw = json.dumps(dict(zip(columns, values, strict=False)), ensure_ascii=False)
            yield Record(number, raw, fields=fields)
    finally:
        workbook.close()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None
