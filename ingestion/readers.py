"""Split landing-zone files into records in Python, one generator per format, in bounded memory:
the files Spark cannot split line by line (Excel, JSON arrays, other encodings than UTF-8, CSV
records over several lines; `lines.py` has the rest), and every file's header and defects.

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
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO, cast

from ingestion.errors import LakehouseError
from ingestion.sources import Source
from ingestion.storage import StoredFile


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


CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""C0 control characters other than tab, newline and carriage return: binary content, not text."""


def _control_character(text: str) -> str | None:
    """The first control character in `text`, as `U+0000`, or None."""
    found = CONTROL_CHARACTER.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@contextmanager
def open_binary(file: StoredFile) -> Iterator[BinaryIO]:
    with file.open() as raw:
        if file.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield cast(BinaryIO, stream)
        else:
            yield raw


@contextmanager
def open_text(source: Source, file: StoredFile) -> Iterator[io.TextIOBase]:
    with open_binary(file) as stream:
        yield io.TextIOWrapper(stream, encoding=source.encoding, errors="surrogateescape", newline="")


class UnreadableFile(LakehouseError):
    """A landing file that cannot be read as its source's format: it is skipped, never half-loaded."""

    def __init__(self, name: str, defect: str) -> None:
        super().__init__(f"{name}: {defect}; file skipped")
        self.defect = defect


_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, KeyError, ValueError)
"""What reading a damaged file raises (gzip.BadGzipFile is an OSError; openpyxl raises the last two)."""


def read_records(source: Source, file: StoredFile) -> Iterator[Record]:
    """The file's records; `UnreadableFile` when the file itself turns out damaged on the way."""
    readers = {"csv": read_csv, "combined_log": read_combined_log, "json": read_json, "xlsx": read_xlsx}
    try:
        yield from readers[source.format](source, file)
    except _READ_ERRORS as error:
        raise UnreadableFile(file.name, read_error_text(error, file)) from None


def read_error_text(error: BaseException, file: StoredFile) -> str:
    """What is wrong with the file, in words, from what reading it raised."""
    size = f"{file.size:,}"
    if isinstance(error, EOFError):
        return f"gzip stream ends after {size} bytes without its end marker (truncated or corrupt)"
    if isinstance(error, gzip.BadGzipFile):
        if "Not a gzipped file" in str(error):
            return "not a gzip file (it lacks the gzip header), despite its .gz name"
        return f"gzip data corrupt ({error})"
    if isinstance(error, zlib.error):
        return f"gzip data corrupt ({error})"
    if isinstance(error, zipfile.BadZipFile):
        return f"not a readable Excel workbook ({error})"
    if isinstance(error, PermissionError):
        return "permission denied: the file cannot be opened for reading"
    if isinstance(error, FileNotFoundError):
        return "the file disappeared while it was being read"
    if isinstance(error, OSError):
        return f"cannot be read ({error.strerror or error})"
    return f"not a readable {file.suffix.lstrip('.') or 'file'} ({type(error).__name__}: {error})"


_SNIFF_BYTES = 1 << 16
_BINARY_SHARE = 0.05
"""Text has almost no control bytes; compressed or binary data has about one in nine."""


def file_defect(source: Source, file: StoredFile) -> str | None:
    """Why the file cannot be ingested as a whole (checked before any of it lands), or None.

    Reads its head, and a gzip through to its end: a truncated or corrupt gzip, a damaged workbook,
    binary content in a text source, an empty file. Defects of single records are the quarantine's, not this."""
    try:
        if file.size == 0:
            return "empty file (zero bytes)"
        if source.format == "xlsx":
            return _workbook_defect(source, file)
        with open_binary(file) as stream:
            head = stream.read(_SNIFF_BYTES)
            while file.suffix == ".gz" and stream.read(1 << 20):  # a gzip is only known whole at its end
                pass
        return _text_defect(source, head)
    except _READ_ERRORS as error:
        return read_error_text(error, file)


def _text_defect(source: Source, head: bytes) -> str | None:
    if not head:
        return "empty file (the gzip holds zero bytes)"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") and not source.encoding.lower().startswith("utf-16"):
        return f"UTF-16 text, but the source reads {source.encoding} (set LAKEHOUSE_{source.name.upper()}_ENCODING)"
    controls = len(CONTROL_CHARACTER.findall(head.decode("latin-1")))
    if controls / len(head) >= _BINARY_SHARE:
        return f"binary content, not text ({controls / len(head):.0%} control bytes in its first {len(head):,} bytes)"
    return None


def _workbook_defect(source: Source, file: StoredFile) -> str | None:
    from openpyxl import load_workbook

    with file.open() as handle:
        with zipfile.ZipFile(handle) as archive:
            damaged = archive.testzip()
        if damaged:
            return f"damaged workbook: {damaged} fails its CRC check"
        workbook = load_workbook(handle, read_only=True, data_only=True)
        try:
            if source.sheet and source.sheet not in workbook.sheetnames:
                return f"no worksheet named {source.sheet!r} (it has {', '.join(workbook.sheetnames)})"
        finally:
            workbook.close()
    return None


def csv_header(source: Source, first_line: str) -> tuple[str, list[str]]:
    """(delimiter, column names) of a CSV header line: `;` when it has more of them than commas,
    names normalised and mapped to the source's fields through their aliases."""
    header_line = first_line.removeprefix("\ufeff")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    canonical = _canonical_names(source)
    return delimiter, [canonical.get(normalise_header(name), normalise_header(name)) for name in header]


def read_csv(source: Source, file: StoredFile) -> Iterator[Record]:
    with open_text(source, file) as text:
        delimiter, columns = csv_header(source, text.readline())
        consumed: list[str] = []

        def lines() -> Iterator[str]:
            for physical_line in text:
                consumed.append(physical_line)
                yield physical_line

        reader = csv.reader(lines(), delimiter=delimiter, quotechar='"')
        line = 1
        while True:
            try:
                row, problem = next(reader), None
            except StopIteration:
                return
            except csv.Error as error:  # e.g. a field over the csv module's limit: that record only
                row, problem = [], f"not a readable CSV record ({error})"
            start, line = line + 1, reader.line_num + 1
            raw = "".join(consumed).rstrip("\r\n")
            consumed.clear()
            if problem:
                yield Record(start, _printable(raw[:10_000]), error=problem)
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if any(_has_undecodable(value) for value in row):
                yield Record(
                    start, _printable(raw), error=f"undecodable bytes (the file is not {source.encoding.upper()})"
                )
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


COMBINED_LOG = re.compile(
    r"^(?P<client_ip>\S+) \S+ (?P<remote_user>\S+) \[(?P<requested_at>[^\]]+)\] "
    r'"(?P<request>[^"\\]*+(?:\\.[^"\\]*+)*+)" (?P<status>\d{3}) (?P<bytes_sent>\d+|-)'
    r'(?: "(?P<referrer>[^"\\]*+(?:\\.[^"\\]*+)*+)" "(?P<user_agent>[^"\\]*+(?:\\.[^"\\]*+)*+)")?\s*$'
)


def read_combined_log(source: Source, file: StoredFile) -> Iterator[Record]:
    with open_text(source, file) as text:
        for number, line in enumerate(text, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if _has_undecodable(line):
                yield Record(
                    number, _printable(line), error=f"undecodable bytes (the line is not {source.encoding.upper()})"
                )
                continue
            if control := _control_character(line):
                yield Record(number, line, error=f"control character {control} in the line")
                continue
            match = COMBINED_LOG.match(line)
            if match is None:
                yield Record(number, line, error="not a combined log format line")
                continue
            fields = {name: (None if value in (None, "-") else value) for name, value in match.groupdict().items()}
            yield Record(number, line, fields=fields)


def read_json(source: Source, file: StoredFile) -> Iterator[Record]:
    """JSON lines, or one top-level array read element by element (never whole into memory)."""
    with open_text(source, file) as text:
        head = text.read(1)
        while head and head.isspace() or head == "\ufeff":
            head = text.read(1)
        if head == "[":
            yield from _json_array_elements(source, text)
            return
        yield from _json_line(source, 1, head + text.readline())
        for number, line in enumerate(text, start=2):
            yield from _json_line(source, number, line)


def _json_line(source: Source, number: int, line: str) -> Iterator[Record]:
    line = line.strip()
    if not line:
        return
    if _has_undecodable(line):
        yield Record(number, _printable(line), error=f"undecodable bytes (the line is not {source.encoding.upper()})")
    else:
        yield Record(number, line)  # parsed and checked in Spark


def _json_array_elements(source: Source, text: io.TextIOBase, chunk_size: int = 1 << 16) -> Iterator[Record]:
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
        if ended and not buffer:
            return
        if buffer.startswith("]"):
            rest = (buffer[1:] + text.read(chunk_size)).strip()
            if rest:  # never dropped silently
                yield Record(line, _printable(rest[:2000]), error="content after the end of the JSON array")
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
            yield Record(
                line, _printable(element), error=f"undecodable bytes (the file is not {source.encoding.upper()})"
            )
        else:
            yield Record(line, element)
        line += element.count("\n")
        buffer = buffer[end:]


def read_xlsx(source: Source, file: StoredFile) -> Iterator[Record]:
    from openpyxl import load_workbook

    with file.open() as handle:
        workbook = load_workbook(handle, read_only=True, data_only=True)
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
