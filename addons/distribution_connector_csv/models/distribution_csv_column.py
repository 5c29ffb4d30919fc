from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..adapters.csv_mapping import DOCUMENTS, FIELD_LABELS, FIELDS, Column


class DistributionCsvColumn(models.Model):
    """One line of a CSV backend's column map: which column of a document's
    files holds (or receives) a canonical field, and how to read it."""

    _name = "distribution.csv.column"
    _description = "CSV column map line"
    _order = "backend_id, document, sequence, id"

    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10, help="Order of the columns written.")
    document = fields.Selection(
        [(code, spec[0]) for code, spec in DOCUMENTS.items()], required=True
    )
    field_name = fields.Selection(
        list(FIELD_LABELS.items()), string="Canonical field", required=True
    )
    column = fields.Char(
        required=True,
        help="Header of the column, or its position (1 for the first) in a "
        "file without a header row.",
    )
    date_format = fields.Char(
        help="For dates: how the partner writes them, in Python's strptime "
        "codes (%d/%m/%Y, %Y%m%d %H%M...). Empty: ISO 8601.",
    )
    decimal_separator = fields.Selection(
        [(".", "Point (1234.5)"), (",", "Comma (1.234,5)")], default="."
    )

    @api.constrains("document", "field_name")
    def _check_field_of_document(self):
        for line in self:
            if line.field_name not in FIELDS[line.document]:
                raise ValidationError(
                    self.env._(
                        "%(field)s is not a field of %(document)s files: use one "
                        "of %(fields)s.",
                        field=line.field_name,
                        document=DOCUMENTS[line.document][0],
                        fields=", ".join(FIELDS[line.document]),
                    )
                )

    def _as_column(self):
        self.ensure_one()
        return Column(
            self.field_name,
            self.column,
            self.date_format or "",
            self.decimal_separator or ".",
        )
