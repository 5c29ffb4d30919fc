from odoo import models

from ..adapters.edi import DOCUMENT_KIND, INTERCHANGE_KIND
from ..flows.edi_document_export import EdiDocumentExport
from ..flows.interchange_import import EdiRejected, InterchangeImport


class DistributionExchange(models.Model):
    _inherit = "distribution.exchange"

    def _get_flow_class(self):
        """Interchanges received and EDI documents sent."""
        if self.kind == INTERCHANGE_KIND and self.direction == "in":
            return InterchangeImport
        if self.kind == DOCUMENT_KIND and self.direction == "out":
            return EdiDocumentExport
        return super()._get_flow_class()

    def _apply(self):
        if self.kind == INTERCHANGE_KIND and self.direction == "in":
            exchange = self.sudo().with_company(self.backend_id.company_id)
            return InterchangeImport(exchange).run()
        return super()._apply()

    def _edi_body(self):
        """The interchange as received, its exact bytes: the one place the
        EDI addon reads an inbound body (the adapter decodes it, one
        character per byte)."""
        self.ensure_one()
        return self._get_raw_bytes()

    # -- acknowledgments ---------------------------------------------------------------

    def _record_success(self, result):
        recorded = super()._record_success(result)
        if self.kind == INTERCHANGE_KIND and self.direction == "in":
            self._edi_acknowledge()
        return recorded

    def _record_failure(self, err):
        result = super()._record_failure(err)
        if self.kind == INTERCHANGE_KIND and self.direction == "in":
            # a rejected interchange names its errors; one refused for what
            # it says (an unknown SKU) was read, and is acknowledged as such
            self._edi_acknowledge(getattr(err, "interchange", None))
        return result

    def _edi_acknowledge(self, interchange=None):
        """The 997 / CONTRL of this interchange, sent once."""
        if interchange is None:
            adapter = self.backend_id._get_adapter()
            interchange = adapter.parse_body({}, self._edi_body())
        if not interchange.standard or interchange.standard != (
            self.backend_id.edi_standard
        ):
            return None
        if any(t.code in ("997", "999", "CONTRL") for t in interchange.transactions):
            return None  # acknowledgments are never acknowledged
        return self.backend_id._edi_send("ack", self, interchange=interchange)


__all__ = ["EdiRejected"]
