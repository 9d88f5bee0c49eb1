"""Files whose records are lines, split by the Spark server where the file lies.

Web server logs, JSON lines and CSV exports whose quoted fields never span lines, in UTF-8 (gzip
or not), are read with Spark's text source: no record passes through Python, and on a cluster the
executors read the file from HDFS themselves. Each line gets the checks and reasons the Python
readers give (`readers.py`, which still reads Excel, JSON arrays, other encodings and CSV records
that span lines). A file that Spark splits is one batch, whatever its size: Spark, not Python,
holds it.

Line numbers, in the same pass that writes: Spark reads the file in splits of exactly the size
the file's `LineFile` chose, whole MiB that spread it over the server's cores (a line belongs to
the split its first byte follows: Hadoop's line reader), and
numbers the rows within each (`monotonically_increasing_id`, the row in its lower bits). The
Python pass that checks the file anyway counts the lines that start up to each split's offset, so a
row's line number is that count for its split (`_metadata.file_block_start`) plus its row number.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ingestion.errors import LakehouseError
from ingestion.readers import COMBINED_LOG, CONTROL_CHARACTER, csv_header, open_binary, open_text
from ingestion.sources import Source
from ingestion.storage import StoredFile

_SPLIT = "split"
"""The line's fields, split once for the checks and the record that read them."""
_BLOCK = 1 << 20
_MOST_SPLIT_BLOCKS = 128
"""Spark's own largest split (`spark.sql.files.maxPartitionBytes`), 128 MiB."""
_ROW_BITS = 33
_FORMATS = ("csv", "combined_log", "json")
_NOT_IN_SPARK_PATHS = set("*?[]{}\\:%")
"""Hadoop reads these in a path as a glob or a URI: such a file is read in Python."""
_CONTROL_BYTES = bytes(0 if CONTROL_CHARACTER.match(chr(byte)) else 1 for byte in range(256))
"""`bytes.translate` table: control characters to 0 (ten times faster than a regex search)."""


@dataclass(frozen=True)
class LineFile:
    """A file Spark can split, and what one read of it in Python found."""

    file: StoredFile
    clean: bool
    """Valid UTF-8 without control characters: Spark need not check each line for them."""
    lines_before: tuple[int, ...] = (0,)
    """Per split of `split_bytes`, how many lines start before its first line."""
    split_bytes: int = _MOST_SPLIT_BLOCKS * _BLOCK
    csv_header: tuple[str, list[str]] | None = None
    """A CSV's delimiter and columns, as `line_file` read them (read again when missing)."""

    @property
    def read_settings(self) -> dict[str, str]:
        """The session settings under which Spark cuts the file at multiples of `split_bytes`:
        it cuts at min(maxPartitionBytes, max(openCostInBytes, bytes per core)), and a read of
        one file packs nothing, whatever opening a file is said to cost."""
        size = str(self.split_bytes)
        return {"spark.sql.files.maxPartitionBytes": size, "spark.sql.files.openCostInBytes": size}


def split_bytes(size: int, parallelism: int) -> int:
    """Splits of whole MiB that spread a file of `size` bytes evenly over `parallelism` tasks (a
    multiple of them, when one split each would pass Spark's largest)."""
    tasks = max(parallelism, 1)
    splits = max(tasks * -(-size // (_MOST_SPLIT_BLOCKS * _BLOCK * tasks)), 1)
    return max(-(-size // (splits * _BLOCK)), 1) * _BLOCK


def in_one_split(file: StoredFile) -> LineFile:
    """A file to read in one split, every line checked."""
    return LineFile(file, clean=False, split_bytes=max(-(-file.size // _BLOCK), 1) * _BLOCK)


def line_file(source: Source, file: StoredFile, parallelism: int) -> LineFile | None:
    """The file, when Spark can split it: a line format in UTF-8, not a JSON array, no CSV record
    over several lines. Reads the file through once (twice for a CSV with quotes)."""
    if source.format not in _FORMATS or codecs.lookup(source.encoding).name != "utf-8":
        return None
    if _NOT_IN_SPARK_PATHS & set(file.name):
        return None
    if source.format == "json" and _is_json_array(source, file):
        return None
    header = _csv_columns(source, file) if source.format == "csv" else None
    if header is not None and not header[1]:
        return None  # no header: every record is refused, the Python reader says why
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = split_bytes(file.size, parallelism)
    clean, quotes, lines = True, False, _LineStarts(size)
    with open_binary(file) as stream:
        for block in iter(lambda: stream.read(_BLOCK), b""):
            quotes = quotes or b'"' in block
            clean = clean and _is_clean(decoder, block)
            lines.add(block)
    clean = clean and _is_clean(decoder, b"", final=True)
    if source.format == "csv" and quotes and _quoted_line_breaks(file):
        return None
    # A gzip file is one split, whatever its size.
    before = (0,) if file.suffix == ".gz" else lines.before_splits()
    return LineFile(file, clean, before, size, header)


class _LineStarts:
    """Counts, block by block, the lines that start at or before each split's offset (the lines
    Hadoop's reader gives to earlier splits): one after each `\n`, lone `\r` or `\r\n`. Blocks may
    be of any size (a remote stream returns what it has)."""

    def __init__(self, split_bytes: int) -> None:
        self.split_bytes, self.read, self.breaks, self.at_splits = split_bytes, 0, 0, [0]
        self.last = b""

    def add(self, block: bytes) -> None:
        while block:
            if self.read and self.read % self.split_bytes == 0:
                # A split starts here: a \r\n across its offset ends a line after it, not before.
                self.at_splits.append(self.breaks - (self.last == b"\r" and block[:1] == b"\n"))
            room = self.split_bytes - self.read % self.split_bytes
            part, block = block[:room], block[room:]
            crlf = part.count(b"\r\n") + (self.last == b"\r" and part[:1] == b"\n")
            self.breaks += part.count(b"\n") + part.count(b"\r") - crlf
            self.read += len(part)
            self.last = part[-1:]

    def before_splits(self) -> tuple[int, ...]:
        """Lines before the first line of each split: those starting at or before its offset, the
        line at offset 0 included (the first split's own lines start at 0)."""
        return (0, *(breaks + 1 for breaks in self.at_splits[1:]))


def _is_clean(decoder: codecs.IncrementalDecoder, block: bytes, final: bool = False) -> bool:
    try:
        decoder.decode(block, final)
    except UnicodeDecodeError:
        return False
    return b"\x00" not in block.translate(_CONTROL_BYTES)


def _csv_columns(source: Source, file: StoredFile) -> tuple[str, list[str]]:
    with open_text(source, file) as text:
        return csv_header(source, text.readline())


def _is_json_array(source: Source, file: StoredFile) -> bool:
    with open_text(source, file) as text:
        head = text.read(1)
        while head and (head.isspace() or head == "\ufeff"):
            head = text.read(1)
        return head == "["


def _quoted_line_breaks(file: StoredFile) -> bool:
    """Whether a line holds an odd number of quotes: a quoted field goes on past its end."""
    with open_binary(file) as stream:
        return any(line.count(b'"') % 2 for line in stream)


def staged_lines(spark: SparkSession, source: Source, lines: LineFile) -> DataFrame:
    """The file's records (blank lines and a CSV's header left out), split in the staged shape
    `validate` reads, each with its line number."""
    file, value, split = lines.file, F.col("value"), F.col(_SPLIT)
    checked = _Checks(value, lines.clean)
    line = F.col("_source_line")
    extra: list[Column] = []
    if source.format == "csv":
        delimiter, columns = lines.csv_header or _csv_columns(source, file)
        splitter = _csv_cells(value, delimiter, len(columns))
        raw, fields, error, header = _csv_record(source, checked, split, delimiter, columns, line)
        if set(columns) - {field.name for field in source.fields}:
            extra = [_csv_extra(source, split, columns).alias("_extra")]
    elif source.format == "combined_log":
        splitter = _log_parts(value)
        raw, fields, error, header = _log_record(source, checked, split)
    else:
        splitter = F.lit(None)
        raw, fields, error, header = _json_record(checked)
    frame = _text(spark, file.folder.url_of(file.name)).select(
        _line_number(lines).alias("_source_line"), value, splitter.alias(_SPLIT)
    )
    return frame.where(~(value.rlike(r"^\s*$") | header)).select(
        raw.alias("_raw"),
        fields.alias("_fields"),
        error.alias("_error"),
        *extra,
        F.lit(file.name).alias("_source_file"),
        line,
    )


def _line_number(lines: LineFile) -> Column:
    """The 1-based line number of each line Spark reads (see the module's docstring)."""
    row = F.monotonically_increasing_id().bitwiseAND((1 << _ROW_BITS) - 1)
    if len(lines.lines_before) == 1:
        return (row + 1).cast("bigint")
    split = (F.col("_metadata.file_block_start") / F.lit(lines.split_bytes)).cast("int")
    before = F.element_at(F.array(*[F.lit(n) for n in lines.lines_before]), split + 1)
    return (before + row + 1).cast("bigint")


def _text(spark: SparkSession, url: str) -> DataFrame:
    """The file's lines, or a clear error when the Spark server cannot see the file (a server on
    another machine than a local landing folder)."""
    frame = spark.read.text(url)
    try:
        frame.schema  # noqa: B018  (analysed now: a missing path is an error here, not in the middle of a batch)
    except AnalysisException as error:
        if error.getCondition() != "PATH_NOT_FOUND":
            raise
        raise LakehouseError(
            f"The Spark server cannot read the landing file {url}",
            hint="the server reads landing files where they lie: run it on this machine, or put the landing "
            "zone on HDFS (LAKEHOUSE_LANDING=hdfs://namenode:port/landing)",
        ) from None
    return frame


@dataclass(frozen=True)
class _Checks:
    """The line-level checks of encoding and control characters, skipped for a clean file."""

    value: Column
    clean: bool

    @property
    def raw(self) -> Column:
        return self.value if self.clean else F.make_valid_utf8(self.value)

    def undecodable(self) -> Column | None:
        return None if self.clean else ~F.is_valid_utf8(self.value)

    def control(self) -> Column | None:
        return None if self.clean else self.value.rlike(CONTROL_CHARACTER.pattern)


def _fields(source: Source, cells: dict[str, Column]) -> Column:
    """The record's fields as `validate` reads them: a struct of every field of the source."""
    return F.struct(*[cells.get(f.name, F.lit(None).cast("string")).alias(f.name) for f in source.fields])


def _first_reason(*cases: tuple[Column | None, Column | str]) -> Column:
    """The reason of the first case that holds (cases without a condition never do)."""
    reason = None
    for condition, text in cases:
        if condition is None:
            continue
        text = F.lit(text) if isinstance(text, str) else text
        reason = F.when(condition, text) if reason is None else reason.when(condition, text)
    return F.lit(None).cast("string") if reason is None else reason


def _control_character(text: Column) -> Column:
    """`U+0001` for the first control character of `text` (call only where it has one)."""
    return F.format_string("U+%04X", F.ascii(F.regexp_extract(text, CONTROL_CHARACTER.pattern, 0)))


def _json_record(checked: _Checks) -> tuple[Column, Column, Column, Column]:
    raw = F.regexp_replace(checked.raw, r"^[\s\x{FEFF}]+|\s+$", "")
    error = _first_reason((checked.undecodable(), "undecodable bytes (the line is not UTF-8)"))
    return raw, F.lit(None).cast("map<string,string>"), error, F.lit(False)


_LOG_GROUPS = list(COMBINED_LOG.groupindex)
_LOG_PATTERN = re.sub(r"\(\?P<\w+>", "(", COMBINED_LOG.pattern)
"""The reader's pattern in Java's dialect: groups by number (Java's group names take no underscore)."""
_SEPARATOR = "\u0001"
"""Joins the log line's fields in one regex pass; a line holding it is refused (a control character)."""


def _log_parts(value: Column) -> Column:
    """The line's fields, in one regex pass (the line itself when it does not match)."""
    fields = _SEPARATOR.join(f"${n}" for n in range(1, len(_LOG_GROUPS) + 1))
    return F.split(F.regexp_replace(value, _LOG_PATTERN, fields), _SEPARATOR)


def _log_record(source: Source, checked: _Checks, parts: Column) -> tuple[Column, Column, Column, Column]:
    cells = {name: F.when(F.get(parts, n) != "-", F.get(parts, n)) for n, name in enumerate(_LOG_GROUPS)}
    in_line = F.concat(F.lit("control character "), _control_character(checked.value), F.lit(" in the line"))
    error = _first_reason(
        (checked.undecodable(), "undecodable bytes (the line is not UTF-8)"),
        (checked.control(), in_line),
        (F.size(parts) != len(_LOG_GROUPS), "not a combined log format line"),
    )
    return checked.raw, _fields(source, cells), error, F.lit(False)


_FIELD_LIMIT = csv.field_size_limit()
"""Python's csv module refuses a longer field; the same limit holds here."""
_QUOTED = r'"[^"]*+(?:""[^"]*+)*+"'


def _csv_cells(value: Column, delimiter: str, count: int) -> Column:
    """The line's cells as a struct `c0` .. (nulls for missing ones; more than `count` are dropped)."""
    schema = ", ".join(f"`c{n}` string" for n in range(count))
    return F.from_csv(value, schema, {"sep": delimiter, "quote": '"', "escape": '"'})


def _csv_record(
    source: Source, checked: _Checks, parsed: Column, delimiter: str, columns: list[str], line: Column
) -> tuple[Column, Column, Column, Column]:
    value = checked.value
    cells = [parsed.getField(f"c{n}") for n in range(len(columns))]
    by_name = {column: cells[n] for n, column in enumerate(columns)}  # the last of a repeated name
    unquoted = F.when(value.contains('"'), F.regexp_replace(value, _QUOTED, "")).otherwise(value)
    found = F.length(unquoted) - F.length(F.replace(unquoted, F.lit(delimiter), F.lit(""))) + 1
    too_long = F.length(value) > _FIELD_LIMIT
    lengths = [F.length(cell) for cell in cells]
    longest = F.greatest(*lengths) if len(lengths) > 1 else lengths[0]
    error = _first_reason(
        (
            too_long & (longest > _FIELD_LIMIT),
            f"not a readable CSV record (field larger than field limit ({_FIELD_LIMIT}))",
        ),
        (checked.undecodable(), "undecodable bytes (the file is not UTF-8)"),
        (checked.control(), _first_in_field(cells, columns, value)),
        (found != len(columns), F.format_string(f"expected {len(columns)} columns, found %d", found)),
    )
    raw = F.when(too_long, F.substring(value, 1, 10_000)).otherwise(checked.raw)
    return raw, _fields(source, by_name), error, line == 1


def _csv_extra(source: Source, parsed: Column, columns: list[str]) -> Column:
    """The cells of the header's columns that the source does not declare, by column name."""
    declared = {field.name for field in source.fields}
    cells = {column: parsed.getField(f"c{n}") for n, column in enumerate(columns) if column not in declared}
    return F.create_map(*[part for column, cell in cells.items() for part in (F.lit(column), cell)])


def _first_in_field(cells: list[Column], columns: list[str], value: Column) -> Column:
    """The reason for the first field (in the header's order) holding a control character."""
    per_field = [
        F.when(
            cell.rlike(CONTROL_CHARACTER.pattern),
            F.concat(F.lit("control character "), _control_character(cell), F.lit(f" in field {column}")),
        )
        for cell, column in zip(cells, columns, strict=True)
    ]
    return F.coalesce(
        *per_field, F.concat(F.lit("control character "), _control_character(value), F.lit(" in the line"))
    )
