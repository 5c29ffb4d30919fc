"""EDI adapter: X12 (004010/005010) and EDIFACT (D96A/D01B) trading partners.

What an EDI partner does, and what this adapter makes of it:

* **Files, not webhooks**: interchanges arrive over the backend's SFTP
  transport (distribution_connector_sftp), each file one inbound exchange of
  topic ``interchange``; the webhook route refuses every delivery.
* **One interchange, several documents**: the exchange's flow
  (``flows/interchange_import.py``) checks the envelope, then hands each
  850 / ORDERS to the order import and each 860 / ORDCHG to the order
  import or the cancellation, through :meth:`to_canonical`.
* **Outbound documents** (997/CONTRL, 855/ORDRSP, 856/DESADV, 810/INVOIC,
  846/INVRPT) are outbound exchanges of kind ``edi_document``, built with
  the partner's envelope and control numbers and uploaded over SFTP by
  their job (``flows/edi_document_export.py``); fulfillments and stock go
  through the suite's own outbound paths (:meth:`export_fulfillment`,
  :meth:`export_stock`).
"""

from odoo.addons.distribution_connector.adapters.base import DistributionAdapter
from odoo.addons.distribution_connector.adapters.tools import stock_result
from odoo.addons.distribution_connector.errors import PermanentError

from . import edi_api, edi_mapping

INTERCHANGE_TOPIC = "interchange"
INTERCHANGE_KIND = "edi_interchange"
DOCUMENT_KIND = "edi_document"

#: inbound document -> (function reading it, function of its ship date)
ORDER_READERS = {
    "850": (edi_mapping.order_from_x12_850, edi_mapping.requested_ship_date_x12),
    "ORDERS": (
        edi_mapping.order_from_edifact_orders,
        edi_mapping.requested_ship_date_edifact,
    ),
}
CHANGE_READERS = {
    "860": edi_mapping.change_from_x12_860,
    "ORDCHG": edi_mapping.change_from_edifact_ordchg,
}


class PartnerContext:
    """What the mapping asks of Odoo for one backend: which SKU a buyer's
    item ids stand for, who the buyer is, where the ship-to is."""

    def __init__(self, backend, interchange):
        self.backend = backend
        self.env = backend.env
        self.interchange = interchange
        self.bindings = self.env["distribution.binding"].sudo()

    def currency(self):
        return self.backend.company_id.currency_id.name

    def sku(self, ids, json_path):
        """The SKU the order import finds the product by: the first of the
        buyer's ids (buyer part number first, then GTIN, then ours) that is
        mapped (SKU mapping), a GTIN that is a product's barcode, or our own
        internal reference; else the first id, which the order import
        reports as an unknown SKU (to map from the review queue)."""
        Product = self.env["product.product"].sudo()
        company = [False, self.backend.company_id.id]
        for qualifier, code in ids:
            if self.bindings._find(self.backend, "product.product", code):
                return code
            if qualifier in edi_mapping.X12_GTIN:
                product = Product.search(
                    [("barcode", "=", code), ("company_id", "in", company)], limit=2
                )
                if len(product) == 1:
                    return self._own_sku(product, code)
            elif qualifier in ("VN", "SA", "SK"):
                if Product.search_count(
                    [("default_code", "=", code), ("company_id", "in", company)]
                ):
                    return code
        if not ids:
            raise edi_mapping.invalid_payload("A line names no item.", json_path)
        return ids[0][1]

    def _own_sku(self, product, fallback):
        binding = self.bindings.search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", "product.product"),
                ("res_id", "=", product.id),
            ],
            limit=1,
        )
        return binding.external_id or product.default_code or fallback

    def customer(self, code, name):
        """The canonical customer: the buyer's id (N1*BY / NAD+BY, else the
        interchange's sender), bound to the backend's buyer partner the
        first time it is seen."""
        code = code or self.interchange.sender
        binding = self.bindings._find(self.backend, "res.partner", code)
        buyer = self.backend.edi_buyer_partner_id
        if not binding and buyer:
            binding = self.bindings.create(
                {
                    "backend_id": self.backend.id,
                    "res_model": "res.partner",
                    "res_id": buyer.id,
                    "external_id": code,
                }
            )
        partner = binding._record() if binding else None
        return {"external_id": code, "name": (partner and partner.name) or name or code}

    def ship_to(self, party):
        """The canonical ship-to address: the contact whose barcode is the
        GLN (N1*ST*..*UL, NAD+DP+..::9) or whose reference is the store code
        (N1*ST*..*92), else the address as the document spells it."""
        Partner = self.env["res.partner"].sudo()
        code = party.get("id")
        found = Partner.browse()
        if code:
            field = "barcode" if party.get("qualifier") == "UL" else "ref"
            found = Partner.search(
                [
                    (field, "=", code),
                    ("company_id", "in", [False, self.backend.company_id.id]),
                ],
                limit=1,
            )
        if found:
            return edi_mapping.compact(
                {
                    key: found[key] or None
                    for key in ("name", "street", "street2", "city", "zip")
                }
                | {"country_code": found.country_id.code or None}
            )
        return edi_mapping.compact(
            {key: party.get(key) for key in ("name", "street", "city", "zip")}
        )


class EdiAdapter(DistributionAdapter):
    code = "edi"
    label = "EDI (X12 / EDIFACT)"
    content_types = ("application/edi-x12", "application/edifact", "text/plain")
    topics = {INTERCHANGE_TOPIC: INTERCHANGE_KIND}
    #: an 846/INVRPT states the quantity; the partner takes it as it is
    stock_update_mode = "absolute"
    max_batch_size = 1000

    # -- inbound -----------------------------------------------------------------

    def verify_signature(self, headers, body):
        # interchanges come over SFTP (and AS2, on the roadmap), never posted
        return False

    def file_topic(self, name):
        """Every polled file is an interchange; what it holds is read from
        its envelope, never from its name."""
        return INTERCHANGE_TOPIC

    def parse_body(self, headers, body):
        """The interchange of ``body``: text, or bytes read as ISO 8859-1,
        which keeps every byte (UNOA/UNOB and X12 are ASCII, UNOC Latin-1)."""
        if isinstance(body, bytes):
            body = body.decode("latin-1")
        return edi_api.parse(body)

    def partner_context(self, interchange):
        return PartnerContext(self.backend, interchange)

    def to_canonical(self, kind, payload):
        """``payload``: ``(transaction, interchange)``. ``order``: the
        canonical order of an 850 / ORDERS; ``edi_change``: ``(action,
        data)`` of an 860 / ORDCHG."""
        transaction, interchange = payload
        moment = self.interchange_moment(interchange)
        if kind == "order":
            reader, _ship_date = ORDER_READERS[transaction.code]
            return reader(transaction, self.partner_context(interchange), moment)
        if kind == "edi_change":
            return CHANGE_READERS[transaction.code](transaction, moment)
        return super().to_canonical(kind, payload)

    @staticmethod
    def requested_ship_date(transaction):
        reader = ORDER_READERS.get(transaction.code)
        return reader[1](transaction) if reader else None

    @staticmethod
    def interchange_moment(interchange):
        return interchange.moment

    # -- outbound ----------------------------------------------------------------

    def export_fulfillment(self, shipment):
        """The 856 / DESADV of a validated delivery, sent as an EDI document
        of its own (packages and their SSCCs read off the delivery)."""
        picking = self.backend.env["stock.picking"].search(
            [
                ("name", "=", shipment["picking_name"]),
                ("company_id", "=", self.backend.company_id.id),
            ],
            limit=1,
        )
        if not picking:
            raise PermanentError(
                f"No delivery {shipment['picking_name']} to describe.", kind="internal"
            )
        document = self.backend._edi_send("shipment", picking, shipment=shipment)
        return {"external_id": document.external_ref}

    def export_stock(self, items):
        """One 846 / INVRPT with every item's quantity, sent as an EDI
        document; the partner takes the numbers as they are."""
        self.backend._edi_send("inventory", None, items=items)
        return [
            stock_result(item, "ok", item["quantity"], "sent in the inventory report")
            for item in items
        ]
