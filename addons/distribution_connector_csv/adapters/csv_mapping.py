"""CSV files of a 3PL <-> canonical objects, through the backend's column maps.

Pure functions: no Odoo, no backend. A file is read with Python's ``csv``
module in the partner's encoding, delimiter and quote character; each row is
turned into the values of its document's canonical fields by the column map
(a column by header name or by 1-based position, with its date format or
decimal separator). A cell that cannot be read is a ``CellError`` naming the
line and the column; the rows of a file are grouped into canonical objects
(the lines of one shipment by order reference, the items of a stock count
by location), and ``MAPPERS`` turn the values of a group into the canonical
object of ``distribution_sync/schemas``.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

from odoo.addons.distribution_connector.adapters.tools import (
    json_number,
    parse_decimal,
)

#: document -> (label, canonical kind, direction)
DOCUMENTS = {
    "order_out": ("Orders out", "order", "out"),
    "shipment_in": ("Shipment confirmations in", "shipment", "in"),
    "stock_in": ("Stock snapshots in", "stock_snapshot", "in"),
    "receipt_in": ("Receipts in", "receipt", "in"),
}
INBOUND_DOCUMENTS = tuple(doc for doc, spec in DOCUMENTS.items() if spec[2] == "in")
#: canonical kind of an inbound file, before it is split into objects
FILE_KIND = "csv_file"

TEXT, NUMBER, DATETIME = "text", "number", "datetime"

#: document -> canonical field -> (type, required); the fields in file order
FIELDS = {
    "order_out": {
        "order_ref": (TEXT, True),
        "order_date": (DATETIME, False),
        "customer_ref": (TEXT, False),
        "ship_name": (TEXT, False),
        "ship_street": (TEXT, False),
        "ship_street2": (TEXT, False),
        "ship_zip": (TEXT, False),
        "ship_city": (TEXT, False),
        "ship_country": (TEXT, False),
        "ship_phone": (TEXT, False),
        "ship_email": (TEXT, False),
        "line_number": (NUMBER, False),
        "sku": (TEXT, True),
        "product_name": (TEXT, False),
        "quantity": (NUMBER, True),
        "carrier": (TEXT, False),
    },
    "shipment_in": {
        "order_ref": (TEXT, True),
        "shipment_id": (TEXT, False),
        "sku": (TEXT, True),
        "quantity": (NUMBER, True),
        "shipped_at": (DATETIME, False),
        "carrier": (TEXT, False),
        "tracking_number": (TEXT, False),
        "tracking_url": (TEXT, False),
    },
    "stock_in": {
        "location": (TEXT, True),
        "sku": (TEXT, True),
        "quantity": (NUMBER, True),
        "counted_at": (DATETIME, False),
    },
    "receipt_in": {
        "picking_name": (TEXT, True),
        "sku": (TEXT, True),
        "quantity": (NUMBER, True),
        "received_at": (DATETIME, False),
    },
}
#: every canonical field a map line may name (the backend form's selection)
FIELD_LABELS = {
    "order_ref": "Order reference",
    "order_date": "Order date",
    "customer_ref": "Customer reference",
    "ship_name": "Ship-to name",
    "ship_street": "Ship-to street",
    "ship_street2": "Ship-to street 2",
    "ship_zip": "Ship-to ZIP",
    "ship_city": "Ship-to city",
    "ship_country": "Ship-to country code",
    "ship_phone": "Ship-to phone",
    "ship_email": "Ship-to email",
    "line_number": "Line number",
    "sku": "SKU",
    "product_name": "Product name",
    "quantity": "Quantity",
    "carrier": "Carrier",
    "shipment_id": "Shipment id",
    "shipped_at": "Shipped at",
    "tracking_number": "Tracking number",
    "tracking_url": "Tracking URL",
    "location": "Location code",
    "counted_at": "Counted at",
    "picking_name": "Receipt reference",
    "received_at": "Received at",
}
#: inbound document -> the fields whose values make one canonical object
GROUP_BY = {
    "shipment_in": ("order_ref", "shipment_id", "tracking_number"),
    "stock_in": ("location",),
    "receipt_in": ("picking_name",),
}


@dataclass
class CsvDialect:
    encoding: str = "utf-8"
    delimiter: str = ";"
    quotechar: str = '"'
    header: bool = True


@dataclass
class Column:
    """One line of a column map."""

    field: str
    column: str
    date_format: str = ""
    decimal_separator: str = "."

    @property
    def position(self):
        """0-based position when the column is given by number, else None."""
        text = (self.column or "").strip()
        return int(text) - 1 if text.isdigit() and int(text) > 0 else None


@dataclass
class CellError:
    line: int
    column: str
    reason: str
    field: str = ""

    def message(self, file_name):
        return f"{file_name}, line {self.line}, column {self.column}: {self.reason}"


class FileError(ValueError):
    """The file as a whole cannot be read (encoding, a mapped header
    missing): nothing of it is applied."""


@dataclass
class Row:
    line: int
    cells: list
    values: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)


def default_columns(document):
    """The map used when a backend sets none for a document: each field
    under a header of its own name."""
    return [Column(name, name) for name in FIELDS[document]]


# -- reading ----------------------------------------------------------------------


def decode(data, dialect):
    try:
        return data.decode(dialect.encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise FileError(
            f"line {line} is not {dialect.encoding} (byte {err.object[err.start]:#04x}"
            f" at offset {err.start}): check the backend's encoding."
        ) from err


def read_table(data, dialect):
    """``(header or None, [(line number, cells)])`` of a file: the line
    number of the line a row starts on, blank rows left out."""
    text = decode(data, dialect)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=dialect.delimiter or ";",
        quotechar=dialect.quotechar or '"',
        strict=True,
    )
    rows = []
    line = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as err:
        raise FileError(f"line {line}: {err}") from err
    if dialect.header:
        if not rows:
            raise FileError("the file has no header row")
        header = [cell.strip() for cell in rows[0][1]]
        return header, rows[1:]
    return None, rows


def resolve(columns, header, document):
    """``[(Column, position, label)]`` of a map against a file's header; a
    mapped header the file lacks is a ``FileError`` when its field is
    required, left out otherwise."""
    resolved = []
    lowered = [name.lower() for name in header or []]
    for column in columns:
        position = column.position
        label = column.column
        if position is None:
            name = (column.column or "").strip().lower()
            if name not in lowered:
                if FIELDS[document][column.field][1]:
                    raise FileError(
                        f"no column {column.column!r} ({column.field}) in the header"
                    )
                continue
            position = lowered.index(name)
        else:
            label = (
                f"{column.column} ({header[position]})"
                if header and position < len(header)
                else f"#{column.column}"
            )
        resolved.append((column, position, label))
    missing = [
        name
        for name, (_type, required) in FIELDS[document].items()
        if required and name not in {column.field for column, _p, _l in resolved}
    ]
    if missing:
        raise FileError(f"the column map of {document} has no {', '.join(missing)}")
    return resolved


def parse_number(text, column):
    value = text.strip().replace(" ", "").replace("\u00a0", "")
    if column.decimal_separator == ",":
        value = value.replace(".", "").replace(",", ".")
    else:
        value = value.replace(",", "")
    try:
        return json_number(parse_decimal(value))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{text!r} is not a number") from err


def parse_datetime(text, column):
    value = text.strip()
    try:
        if column.date_format:
            moment = datetime.strptime(value, column.date_format)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        expected = column.date_format or "ISO 8601"
        raise ValueError(f"{text!r} is not a date ({expected})") from err
    if moment.tzinfo:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


PARSERS = {NUMBER: parse_number, DATETIME: parse_datetime}


def parse_row(resolved, document, line, cells):
    """A ``Row`` with the values of its mapped cells, or its errors."""
    row = Row(line, cells)
    for column, position, label in resolved:
        kind, required = FIELDS[document][column.field]
        text = cells[position] if position < len(cells) else None
        if text is None or not text.strip():
            if required:
                reason = "missing" if text is None else "empty"
                row.errors.append(
                    CellError(line, label, f"{column.field} is {reason}", column.field)
                )
            continue
        parser = PARSERS.get(kind)
        try:
            value = parser(text, column) if parser else text.strip()
        except ValueError as err:
            row.errors.append(
                CellError(line, label, f"{column.field}: {err}", column.field)
            )
            continue
        if column.field == "quantity" and value < 0 and document != "stock_in":
            row.errors.append(
                CellError(line, label, f"quantity {text!r} is negative", "quantity")
            )
            continue
        row.values[column.field] = value
    return row


def parse_file(data, dialect, columns, document):
    """``(header, [Row])`` of a file."""
    header, table = read_table(data, dialect)
    resolved = resolve(columns, header, document)
    return header, [parse_row(resolved, document, line, cells) for line, cells in table]


def group_key(document, values):
    return tuple(values.get(name) or "" for name in GROUP_BY[document])


def group_rows(document, rows):
    """``{group key: [Row]}`` of the readable rows, in file order."""
    groups = {}
    for row in rows:
        if not row.errors:
            groups.setdefault(group_key(document, row.values), []).append(row)
    return groups


# -- canonical objects -------------------------------------------------------------


def _first(rows, name):
    return next((row[name] for row in rows if row.get(name)), None)


def _lines(rows):
    return [{"sku": row["sku"], "quantity": row["quantity"]} for row in rows]


def _compact(data):
    return {key: value for key, value in data.items() if value not in (None, "")}


def shipment(rows):
    return _compact(
        {
            "order_external_id": rows[0]["order_ref"],
            "external_id": _first(rows, "shipment_id"),
            "shipped_at": _first(rows, "shipped_at"),
            "carrier": _first(rows, "carrier"),
            "tracking_number": _first(rows, "tracking_number"),
            "tracking_url": _first(rows, "tracking_url"),
            "lines": _lines(rows),
        }
    )


def stock_snapshot(rows):
    return _compact(
        {
            "location": rows[0]["location"],
            "counted_at": _first(rows, "counted_at"),
            "items": _lines(rows),
        }
    )


def receipt(rows):
    return _compact(
        {
            "picking_name": rows[0]["picking_name"],
            "received_at": _first(rows, "received_at"),
            "lines": _lines(rows),
        }
    )


#: canonical kind -> function of the values of a group's rows
MAPPERS = {"shipment": shipment, "stock_snapshot": stock_snapshot, "receipt": receipt}


# -- writing ----------------------------------------------------------------------


def format_value(value, kind, column):
    if value in (None, False):
        return ""
    if kind == NUMBER:
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return text.replace(".", ",") if column.decimal_separator == "," else text
    if kind == DATETIME:
        return value.strftime(column.date_format or "%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def write_table(columns, dialect, document, rows):
    """The bytes of a file: a header row (the columns' names) unless the
    dialect has none, then one row per dict of ``rows``.

    :raise FileError: a value the encoding cannot write
    """
    width = max(
        [len(columns)] + [c.position + 1 for c in columns if c.position is not None]
    )
    slots = []
    taken = {c.position for c in columns if c.position is not None}
    free = (index for index in range(width) if index not in taken)
    for column in columns:
        slots.append(column.position if column.position is not None else next(free))
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer,
        delimiter=dialect.delimiter or ";",
        quotechar=dialect.quotechar or '"',
        lineterminator="\r\n",
    )
    if dialect.header:
        header = [""] * width
        for column, slot in zip(columns, slots, strict=True):
            header[slot] = (
                column.field if column.position is not None else column.column
            )
        writer.writerow(header)
    for values in rows:
        cells = [""] * width
        for column, slot in zip(columns, slots, strict=True):
            kind = FIELDS[document][column.field][0]
            cells[slot] = format_value(values.get(column.field), kind, column)
        writer.writerow(cells)
    text = buffer.getvalue()
    try:
        return text.encode(dialect.encoding)
    except UnicodeEncodeError as err:
        raise FileError(
            f"{text[err.start : err.end]!r} cannot be written in {dialect.encoding}"
        ) from err
