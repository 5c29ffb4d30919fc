import base64
import posixpath

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.tools import file_open

from ..adapters import csv_mapping
from ..adapters.csv import CsvAdapter
from ..adapters.csv_mapping import DOCUMENTS, INBOUND_DOCUMENTS

ENCODINGS = [
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with BOM"),
    ("cp1252", "Windows-1252"),
    ("latin-1", "Latin-1 (ISO 8859-1)"),
]
#: rows the preview shows
PREVIEW_ROWS = 10


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    adapter = fields.Selection(
        selection_add=[("csv", "CSV files (3PL)")],
        ondelete={"csv": "set default"},
    )
    csv_column_ids = fields.One2many(
        "distribution.csv.column",
        "backend_id",
        string="Column maps",
        copy=True,
        help="Per document, the column of each canonical field. A document "
        "without lines uses headers named after the fields.",
    )
    csv_encoding = fields.Selection(ENCODINGS, string="Encoding", default="utf-8")
    csv_delimiter = fields.Selection(
        [(";", "Semicolon ;"), (",", "Comma ,"), ("\t", "Tab"), ("|", "Pipe |")],
        string="Delimiter",
        default=";",
    )
    csv_quotechar = fields.Char(string="Quote character", size=1, default='"')
    csv_header = fields.Boolean(
        string="Header row",
        default=True,
        help="The first row names the columns (read and written).",
    )
    csv_shipment_pattern = fields.Char(
        string="Shipment confirmation files",
        default="ship*.csv",
        help="File name pattern (* and ?) of polled shipment confirmations.",
    )
    csv_stock_pattern = fields.Char(string="Stock snapshot files", default="stock*.csv")
    csv_receipt_pattern = fields.Char(string="Receipt files", default="receipt*.csv")
    csv_send_orders = fields.Boolean(
        string="Send confirmed orders",
        default=True,
        help="A confirmed order shipped from a warehouse of this backend is "
        "uploaded as a CSV file.",
    )
    csv_order_file_name = fields.Char(
        string="Order file name",
        default="order-{order}.csv",
        help="{order} is the order reference.",
    )
    csv_sample = fields.Binary(
        string="Sample file", help="A file of the partner, to preview the map."
    )
    csv_sample_name = fields.Char()
    csv_sample_document = fields.Selection(
        [(doc, DOCUMENTS[doc][0]) for doc in INBOUND_DOCUMENTS],
        string="Sample document",
        default="shipment_in",
    )
    csv_preview = fields.Html(
        string="Preview",
        compute="_compute_csv_preview",
        sanitize=False,
        help="The first rows of the sample read with the map: each cell's "
        "value, or why it cannot be read.",
    )

    def _get_adapter_class(self):
        if self.adapter != "csv":
            return super()._get_adapter_class()
        return CsvAdapter

    def _csv_file_patterns(self):
        self.ensure_one()
        return {
            "shipment_in": self.csv_shipment_pattern,
            "stock_in": self.csv_stock_pattern,
            "receipt_in": self.csv_receipt_pattern,
        }

    def _csv_columns(self, document):
        """The column map of a document (``csv_mapping.Column``)."""
        self.ensure_one()
        lines = self.csv_column_ids.filtered(lambda line: line.document == document)
        if not lines:
            return csv_mapping.default_columns(document)
        return [line._as_column() for line in lines.sorted("sequence")]

    @api.depends(
        "csv_sample",
        "csv_sample_document",
        "csv_encoding",
        "csv_delimiter",
        "csv_quotechar",
        "csv_header",
        "csv_column_ids.document",
        "csv_column_ids.field_name",
        "csv_column_ids.column",
        "csv_column_ids.date_format",
        "csv_column_ids.decimal_separator",
        "csv_column_ids.sequence",
    )
    def _compute_csv_preview(self):
        for backend in self:
            if backend.adapter != "csv" or not backend.csv_sample:
                backend.csv_preview = False
                continue
            backend.csv_preview = backend._csv_preview_html(
                base64.b64decode(backend.csv_sample),
                backend.csv_sample_document or "shipment_in",
            )

    def _csv_preview_html(self, data, document):
        """An HTML table of the first rows of ``data`` read as ``document``."""
        adapter = CsvAdapter(self)
        columns = adapter.columns(document)
        try:
            header, rows = adapter.parse_file(document, data)
        except csv_mapping.FileError as err:
            return Markup('<div class="alert alert-danger">%s</div>') % (
                self.env._("The file cannot be read: %(error)s", error=str(err))
            )
        names = [column.field for column in columns]
        head = Markup("").join(
            Markup("<th>%s</th>") % name for name in ["line", *names]
        )
        body = Markup("")
        for row in rows[:PREVIEW_ROWS]:
            errors = {}
            for error in row.errors:
                errors.setdefault(error.field, error)
            cells = Markup("<td>%s</td>") % row.line
            for name in names:
                if name in errors:
                    cells += Markup('<td class="text-danger" title="%s">%s</td>') % (
                        errors[name].message(self.csv_sample_name or "sample"),
                        errors[name].reason,
                    )
                else:
                    cells += Markup("<td>%s</td>") % escape(row.values.get(name, ""))
            body += Markup("<tr>%s</tr>") % cells
        bad = sum(1 for row in rows if row.errors)
        summary = self.env._(
            "%(rows)s rows, %(bad)s with errors; header: %(header)s",
            rows=len(rows),
            bad=bad,
            header=", ".join(header or []) or "none",
        )
        return Markup(
            '<p>%s</p><table class="table table-sm o_csv_preview">'
            "<thead><tr>%s</tr></thead><tbody>%s</tbody></table>"
        ) % (summary, head, body)

    # -- demo data ----------------------------------------------------------------

    def _demo_load_csv(self, paths, order_vals=None):
        """The demo 3PL's files (``paths``, addon paths), stored as the SFTP
        poll stores them and processed as their jobs do, split into objects
        and rejected rows; then an order confirmed for its warehouse, whose
        file waits, and the 3PL paused, so that nothing goes out to it."""
        self.ensure_one()
        for path in paths:
            name = posixpath.basename(path)
            with file_open(path, "rb") as handle:
                data = handle.read()
            exchange, _created = self._store_inbound_file(name, data, dispatch=False)
            exchange.process()
            for part in exchange.csv_part_ids.filtered(lambda p: p.state == "received"):
                part.process()
        if order_vals:
            self.env["sale.order"].create(order_vals).action_confirm()
        self.action_pause()
