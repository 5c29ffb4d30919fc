import uuid

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import file_open

from ..adapters.edi import DOCUMENT_KIND, EdiAdapter
from ..flows.edi_document_export import DOCUMENTS, EdiDocumentExport

X12_VERSIONS = ("004010", "005010")
EDIFACT_VERSIONS = ("D96A", "D01B")

#: what each control number sequence numbers
SEQUENCES = {
    "interchange": "ISA13 / GS06, UNB 0020",
    "message": "ST02, UNH 0062",
    "sscc": "SSCC serial references",
}


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    adapter = fields.Selection(
        selection_add=[("edi", "EDI (X12 / EDIFACT)")],
        ondelete={"edi": "set default"},
    )
    edi_standard = fields.Selection(
        [("x12", "X12"), ("edifact", "EDIFACT")],
        string="EDI standard",
        default="x12",
        tracking=True,
    )
    edi_version = fields.Selection(
        [
            ("004010", "X12 004010"),
            ("005010", "X12 005010"),
            ("D96A", "EDIFACT D96A"),
            ("D01B", "EDIFACT D01B"),
        ],
        string="EDI version",
        default="004010",
        tracking=True,
        help="The version of the documents we send (GS08 / UNH 0052-0054); "
        "received interchanges of another version are rejected.",
    )
    edi_our_qualifier = fields.Char(
        string="Our id qualifier",
        default="ZZ",
        tracking=True,
        help="ISA05 (ZZ mutually defined, 01 DUNS, 12 phone, 08 UCC) or the "
        "UNB sender's code qualifier (14 GLN, ZZZ mutually defined).",
    )
    edi_our_id = fields.Char(
        string="Our interchange id",
        tracking=True,
        help="ISA06 / UNB sender id of what we send; received interchanges "
        "must be addressed to it (ISA08 / UNB recipient).",
    )
    edi_partner_qualifier = fields.Char(
        string="Partner id qualifier", default="ZZ", tracking=True
    )
    edi_partner_id = fields.Char(
        string="Partner interchange id",
        tracking=True,
        help="ISA08 / UNB recipient of what we send; received interchanges "
        "must come from it (ISA06 / UNB sender).",
    )
    edi_our_gs_code = fields.Char(
        string="Our application code (GS02)",
        tracking=True,
        help="X12 only; our interchange id when empty.",
    )
    edi_partner_gs_code = fields.Char(
        string="Partner application code (GS03)",
        tracking=True,
        help="X12 only; the partner's interchange id when empty.",
    )
    edi_test_indicator = fields.Boolean(
        string="Test interchanges",
        tracking=True,
        help="Send with ISA15 = T (X12) or UNB 0035 = 1 (EDIFACT).",
    )
    edi_buyer_partner_id = fields.Many2one(
        "res.partner",
        string="Buyer",
        tracking=True,
        help="The customer of the partner's purchase orders: the buyer id of "
        "each order (N1*BY, NAD+BY, else the interchange sender) is mapped to "
        "it the first time it is seen (a customer mapping of this backend).",
    )
    edi_gs1_prefix = fields.Char(
        string="GS1 company prefix",
        tracking=True,
        help="Starts the SSCC-18 of each package sent (extension digit 0, "
        "this prefix, a serial reference, the GS1 check digit).",
    )
    edi_sequence_ids = fields.Many2many(
        "ir.sequence",
        string="Control number sequences",
        readonly=True,
        copy=False,
        help="One sequence per number of this partner: interchange (ISA13, "
        "GS06, UNB 0020), message (ST02, UNH 0062), SSCC serial reference.",
    )

    def _get_adapter_class(self):
        """EDI backends speak through ``EdiAdapter``."""
        if self.adapter == "edi":
            return EdiAdapter
        return super()._get_adapter_class()

    @api.constrains(
        "adapter",
        "edi_standard",
        "edi_version",
        "edi_our_id",
        "edi_partner_id",
        "edi_our_qualifier",
        "edi_partner_qualifier",
    )
    def _check_edi_settings(self):
        for backend in self.filtered(lambda b: b.adapter == "edi"):
            versions = (
                X12_VERSIONS if backend.edi_standard == "x12" else EDIFACT_VERSIONS
            )
            if backend.edi_version not in versions:
                raise ValidationError(
                    self.env._(
                        "%(version)s is not a version of %(standard)s.",
                        version=backend.edi_version,
                        standard=backend.edi_standard,
                    )
                )
            if backend.edi_standard != "x12":
                continue
            for name, size in (
                ("edi_our_id", 15),
                ("edi_partner_id", 15),
                ("edi_our_qualifier", 2),
                ("edi_partner_qualifier", 2),
            ):
                if len(backend[name] or "") > size:
                    raise ValidationError(
                        self.env._(
                            "%(field)s holds %(size)s characters at most in X12.",
                            field=self._fields[name].string,
                            size=size,
                        )
                    )

    # -- control numbers -------------------------------------------------------------

    def _edi_sequence(self, purpose):
        """The sequence of this partner's ``purpose`` numbers (see
        ``SEQUENCES``), made the first time. A standard PostgreSQL sequence:
        never the same number twice, increasing, without locking the
        backend (a number taken by a rolled-back transaction is skipped,
        which X12 and EDIFACT allow)."""
        self.ensure_one()
        code = f"distribution.edi.{purpose}"
        backend = self.sudo()
        sequence = backend.edi_sequence_ids.filtered(lambda s: s.code == code)
        if not sequence:
            sequence = (
                self.env["ir.sequence"]
                .sudo()
                .create(
                    {
                        "name": f"{self.name}: {SEQUENCES[purpose]}",
                        "code": code,
                        "implementation": "standard",
                        "number_next": 1,
                        "padding": 0,
                        "company_id": self.company_id.id,
                    }
                )
            )
            backend.edi_sequence_ids = [(4, sequence.id)]
        return sequence

    def _edi_next_number(self, purpose):
        return int(self._edi_sequence(purpose).sudo().next_by_id())

    # -- documents sent -------------------------------------------------------------

    def _edi_send(self, document, record, **data):
        """The outbound exchange sending ``document`` (a key of
        ``DOCUMENTS``) about ``record``, made once per record; built now when
        ``data`` carries what it says (an acknowledgment's interchange, an
        inventory's items, a shipment), else by its job; its upload enqueued.
        """
        self.ensure_one()
        Exchange = self.env["distribution.exchange"].sudo()
        topic = DOCUMENTS[document][0 if self.edi_standard == "x12" else 1]
        if record is not None:
            event_id = f"{document}:{record._name}/{record.id}"
        else:
            # a document of no record (an inventory report): one per call
            event_id = f"{document}:{uuid.uuid4().hex}"
        exchange = Exchange.search(
            [
                ("backend_id", "=", self.id),
                ("direction", "=", "out"),
                ("topic", "=", topic),
                ("external_event_id", "=", event_id),
            ],
            limit=1,
        )
        if exchange:
            return exchange
        exchange = Exchange.create(
            {
                "backend_id": self.id,
                "direction": "out",
                "topic": topic,
                "kind": DOCUMENT_KIND,
                "external_event_id": event_id,
                "content_type": "application/edi-x12"
                if self.edi_standard == "x12"
                else "application/edifact",
                "res_model": record._name if record is not None else False,
                "res_id": record.id if record is not None else False,
            }
        )
        if data:
            EdiDocumentExport(exchange).build(**data)
        exchange._enqueue_processing()
        return exchange

    # -- demo data --------------------------------------------------------------------

    def _demo_load_edi(self):
        """The demo partner's interchanges (``demo/*.x12``), stored as the SFTP
        poll stores a file and processed as its job does; then the backend
        is paused, so that its documents wait instead of going out."""
        self.ensure_one()
        for name in ("harbor_850_4500001.x12", "harbor_850_4500002_broken.x12"):
            with file_open(f"distribution_connector_edi/demo/{name}", "rb") as handle:
                data = handle.read()
            exchange, _created = self._store_inbound_file(name, data)
            if exchange.state == "received":
                exchange._mark_dispatched([None])
                exchange._job_records(self).process()
        self.action_pause()
