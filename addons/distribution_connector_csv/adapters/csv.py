"""CSV adapter (code ``csv``): 3PLs and partners that exchange CSV files over
SFTP (``distribution_connector_sftp``), each with its own columns, encoding
and delimiter, set on the backend as column maps.

Inbound, each polled file is one exchange whose topic is its document
(``file_topic``: the file name against the backend's patterns), of kind
``csv_file``; processing it splits it into one exchange per canonical object
(``models/distribution_exchange.py``), applied by the flows of
distribution_sync like any other, and one exchange in error per unreadable
row. Those exchanges carry their rows' raw cells; ``to_canonical`` reads
them with the backend's current map, so a row rejected for a wrong map is
retried once the map is fixed.

Outbound, confirmed orders leave as CSV files (``flows/order_export.py``).
No webhooks: files come by SFTP only.
"""

import fnmatch

from odoo.addons.distribution_connector.adapters.base import DistributionAdapter
from odoo.addons.distribution_connector.errors import PermanentError

from . import csv_mapping
from .csv_mapping import DOCUMENTS, FILE_KIND, INBOUND_DOCUMENTS


class CsvAdapter(DistributionAdapter):
    code = "csv"
    label = "CSV"
    content_types = ()
    #: file topics (the inbound documents) and the topics of their objects
    topics = {
        **{document: FILE_KIND for document in INBOUND_DOCUMENTS},
        **{DOCUMENTS[doc][1]: DOCUMENTS[doc][1] for doc in INBOUND_DOCUMENTS},
    }
    mappers = csv_mapping.MAPPERS

    def verify_signature(self, headers, body):
        return False  # files come by SFTP, never on the webhook route

    # -- files ---------------------------------------------------------------------

    def file_topic(self, name):
        """The inbound document a polled file is, by its name."""
        for document, pattern in self.backend._csv_file_patterns().items():
            if pattern and fnmatch.fnmatch(name.lower(), pattern.lower()):
                return document
        return None

    def dialect(self):
        backend = self.backend
        return csv_mapping.CsvDialect(
            encoding=backend.csv_encoding or "utf-8",
            delimiter=backend.csv_delimiter or ";",
            quotechar=backend.csv_quotechar or '"',
            header=backend.csv_header,
        )

    def columns(self, document):
        return self.backend._csv_columns(document)

    def parse_file(self, document, data):
        """``(header, [Row])``; see ``csv_mapping.parse_file``."""
        return csv_mapping.parse_file(
            data, self.dialect(), self.columns(document), document
        )

    def to_canonical(self, kind, payload):
        """The canonical object of one group of rows: ``payload`` holds the
        file name, its document and header, and the rows' line numbers and
        raw cells (see ``distribution.exchange._csv_split``)."""
        document = payload["document"]
        try:
            resolved = csv_mapping.resolve(
                self.columns(document), payload.get("header"), document
            )
        except csv_mapping.FileError as err:
            raise PermanentError(
                f"{payload['file']}: {err}", kind="invalid_payload"
            ) from err
        values = []
        for item in payload["rows"]:
            row = csv_mapping.parse_row(resolved, document, item["line"], item["cells"])
            if row.errors:
                error = row.errors[0]
                raise PermanentError(
                    error.message(payload["file"]),
                    kind="invalid_payload",
                    key=f"line {error.line}",
                    json_path=error.column,
                )
            values.append(row.values)
        return super().to_canonical(kind, values)

    def order_file(self, rows, order_name):
        """``(file name, bytes)`` of an order's rows."""
        data = csv_mapping.write_table(
            self.columns("order_out"), self.dialect(), "order_out", rows
        )
        pattern = self.backend.csv_order_file_name or "{order}.csv"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in order_name)
        return pattern.replace("{order}", safe), data
