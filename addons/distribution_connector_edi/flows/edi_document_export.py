"""EDI documents sent: one outbound exchange per document (kind
``edi_document``), its body the whole interchange as sent, uploaded over the
backend's SFTP transport by its job.

A document is built once: its control numbers (taken from the partner's
sequences) and its body are kept on the exchange, so a retried upload sends
the same bytes under the same name (the transport's upload writes nothing
when the file is there already).
"""

import json
from datetime import datetime

from odoo import fields

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_sync.flows.common import product_skus
from odoo.addons.queue_job.exception import RetryableJobError

from ..adapters import edi_api, edi_mapping

#: document -> (X12 transaction set, EDIFACT message)
DOCUMENTS = {
    "ack": ("997", "CONTRL"),
    "order_response": ("855", "ORDRSP"),
    "shipment": ("856", "DESADV"),
    "invoice": ("810", "INVOIC"),
    "inventory": ("846", "INVRPT"),
}
#: X12 functional identifier code (GS01) of each transaction set
X12_FUNCTIONS = {"997": "FA", "855": "PR", "856": "SH", "810": "IN", "846": "IB"}
X12_BUILDERS = {
    "855": edi_mapping.x12_855,
    "856": edi_mapping.x12_856,
    "810": edi_mapping.x12_810,
    "846": edi_mapping.x12_846,
}
EDIFACT_BUILDERS = {
    "ORDRSP": edi_mapping.edifact_ordrsp,
    "DESADV": edi_mapping.edifact_desadv,
    "INVOIC": edi_mapping.edifact_invoic,
    "INVRPT": edi_mapping.edifact_invrpt,
}
#: EANCOM subset version (UNH 0057) per directory and message
EANCOM = {
    "D96A": {
        "ORDRSP": "EAN005",
        "DESADV": "EAN005",
        "INVOIC": "EAN008",
        "INVRPT": "EAN005",
    },
    "D01B": {
        "ORDRSP": "EAN008",
        "DESADV": "EAN007",
        "INVOIC": "EAN010",
        "INVRPT": "EAN008",
    },
}


def gs1_check_digit(digits):
    """The GS1 check digit of ``digits`` (weights 3 and 1 from the right)."""
    total = sum(
        int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits))
    )
    return str((10 - total % 10) % 10)


def sscc(prefix, serial):
    """SSCC-18: extension digit 0, the GS1 company prefix, the serial
    reference filling 17 digits, the check digit."""
    body = "0" + prefix
    width = 17 - len(body)
    if width < 1 or serial >= 10**width:
        raise PermanentError(
            f"The GS1 company prefix {prefix} leaves no room for serial {serial}.",
            kind="configuration",
        )
    body += f"{serial:0{width}d}"
    return body + gs1_check_digit(body)


class EdiDocumentExport:
    """Builds and uploads one outbound EDI document."""

    kind = "edi_document"

    def __init__(self, exchange):
        self.exchange = exchange
        self.backend = exchange.backend_id
        self.env = exchange.env
        self.x12 = self.backend.edi_standard == "x12"
        self.code = exchange.topic
        self.document = next(
            key for key, codes in DOCUMENTS.items() if self.code in codes
        )
        self.record = (
            self.env[exchange.res_model].browse(exchange.res_id).exists()
            if exchange.res_model and exchange.res_model in self.env
            else None
        )

    # -- job -------------------------------------------------------------------------

    def run(self):
        if self.backend.paused:
            # a paused backend sends nothing; the job waits without using up
            # its retries (as the fulfillment job does)
            raise RetryableJobError(
                f"{self.backend.name} is paused.", seconds=600, ignore_retry=True
            )
        if not self.exchange.raw_body:
            self.build()
        if not self.backend.sftp_host:
            raise PermanentError(
                f"{self.backend.name} has no SFTP server to send {self.code} to.",
                kind="configuration",
            )
        name = json.loads(self.exchange.headers or "{}")["x-file-name"]
        written = self.backend._sftp_upload(
            name, self.exchange.raw_body.encode("ascii")
        )
        self.exchange.sudo().response_body = (
            f"uploaded as {name}" if written else f"{name} was there already"
        )
        return self.record or None

    def payload(self):
        """Not kept on a failure: the exchange's body is the document once
        built, and a document whose build failed is built by the retry (a
        body written here would be uploaded as the document)."""
        raise PermanentError(
            f"The {self.code} is built by its job.", kind="configuration"
        )

    # -- building --------------------------------------------------------------------

    def build(self, **data):
        """Number, build and keep the document. ``data``: ``interchange``
        (an acknowledgment), ``items`` (an inventory report), ``shipment``
        (a canonical shipment)."""
        reader = getattr(self, f"_{self.document}_data")
        content = reader(**data)
        reference = content.pop("_reference")
        if self.document == "ack":
            segments = (
                edi_mapping.x12_997(content["interchange"])
                if self.x12
                else edi_mapping.edifact_contrl(content["interchange"])
            )
        else:
            builders = X12_BUILDERS if self.x12 else EDIFACT_BUILDERS
            segments = builders[self.code](content)
        control = self.backend._edi_next_number("interchange")
        message = self.backend._edi_next_number("message")
        text = self._envelope(control, message, segments)
        extension = "x12" if self.x12 else "edi"
        name = f"{self.code}_{control:09d}.{extension}"
        self.exchange.sudo().write(
            {
                "raw_body": text,
                "external_ref": reference,
                "headers": json.dumps(
                    {"x-file-name": name, "x-control-number": str(control)}
                ),
            }
        )
        return text

    def _envelope(self, control, message, segments):
        backend = self.backend
        now = datetime.now().replace(second=0, microsecond=0)
        if self.x12:
            return edi_api.write_x12(
                {
                    "sender_qualifier": backend.edi_our_qualifier or "ZZ",
                    "sender": backend.edi_our_id or "",
                    "recipient_qualifier": backend.edi_partner_qualifier or "ZZ",
                    "recipient": backend.edi_partner_id or "",
                    "date": now,
                    "control": control,
                    "version": "00501" if backend.edi_version == "005010" else "00401",
                    "usage": "T" if backend.edi_test_indicator else "P",
                    "function": X12_FUNCTIONS[self.code],
                    "gs_sender": backend.edi_our_gs_code or backend.edi_our_id or "",
                    "gs_recipient": backend.edi_partner_gs_code
                    or backend.edi_partner_id
                    or "",
                    "gs_version": backend.edi_version,
                },
                [(self.code, message, segments)],
            )
        directory = backend.edi_version
        if self.code == "CONTRL":
            identifier = ("CONTRL", "D", "3", None)
        else:
            identifier = (self.code, "D", directory[1:], EANCOM[directory][self.code])
        return edi_api.write_edifact(
            {
                "sender": backend.edi_our_id or "",
                "sender_qualifier": backend.edi_our_qualifier or "14",
                "recipient": backend.edi_partner_id or "",
                "recipient_qualifier": backend.edi_partner_qualifier or "14",
                "date": now,
                "control": control,
            },
            [(*identifier[:3], message, identifier[3], segments)],
        )

    # -- what each document says, read off Odoo -----------------------------------

    def _ack_data(self, interchange):
        return {"interchange": interchange, "_reference": interchange.control}

    def _item(self, product, skus, line_id="", **values):
        sku = skus.get(product.id) or product.default_code or ""
        own = product.default_code or sku
        return {
            "line_id": line_id or "",
            "sku": own,
            "buyer_part": sku if sku != own else None,
            "gtin": product.barcode or None,
            **values,
        }

    def _ship_to(self, partner):
        if partner.barcode:
            return {"name": partner.name, "qualifier": "UL", "id": partner.barcode}
        if partner.ref:
            return {"name": partner.name, "qualifier": "92", "id": partner.ref}
        return {}

    def _order_response_data(self):
        order = self.record
        if not order:
            raise PermanentError(
                "The order of this response was deleted.", kind="internal"
            )
        lines = order.order_line.filtered(
            lambda line: line.product_id and line.distribution_line_external_id
        )
        skus = product_skus(self.env, self.backend, lines.product_id)
        ship_date = order.commitment_date or order.expected_date
        return {
            "_reference": order.distribution_external_id,
            "status": "AD",
            "po_number": order.distribution_external_id,
            "po_date": order.date_order,
            "our_ref": order.name,
            "date": fields.Datetime.now(),
            "lines": [
                self._item(
                    line.product_id,
                    skus,
                    line.distribution_line_external_id,
                    quantity=_qty(line.product_uom_qty),
                    unit_price=_qty(line.price_unit),
                    ack="IA",
                    ship_date=ship_date,
                )
                for line in lines
            ],
        }

    def _shipment_data(self, shipment):
        picking = self.record
        order = picking.sale_id
        prefix = self.backend.edi_gs1_prefix
        if not prefix or not prefix.isdigit():
            raise PermanentError(
                f"{self.backend.name} has no GS1 company prefix: SSCCs cannot be "
                "numbered. Set it on the backend's EDI tab, then retry.",
                kind="configuration",
            )
        move_lines = picking.move_line_ids.filtered(lambda ml: ml.quantity)
        skus = product_skus(self.env, self.backend, move_lines.product_id)
        packages = {}
        for move_line in move_lines:
            package = move_line.result_package_id
            packages.setdefault(package.id or 0, []).append(move_line)
        built = []
        for _package_id, package_lines in sorted(packages.items()):
            serial = self.backend._edi_next_number("sscc")
            built.append(
                {
                    "sscc": sscc(prefix, serial),
                    "items": [
                        self._item(
                            ml.product_id,
                            skus,
                            ml.move_id.sale_line_id.distribution_line_external_id,
                            quantity=_qty(ml.quantity),
                        )
                        for ml in package_lines
                    ],
                }
            )
        return {
            "_reference": picking.name,
            "shipment_id": picking.name,
            "date": picking.date_done or fields.Datetime.now(),
            "carrier": shipment.get("carrier"),
            "tracking": shipment.get("tracking_number"),
            "po_number": order.distribution_external_id,
            "po_date": order.date_order,
            "ship_to": self._ship_to(order.partner_shipping_id),
            "packages": built,
        }

    def _invoice_data(self):
        move = self.record
        if not move:
            raise PermanentError(
                "The invoice of this document was deleted.", kind="internal"
            )
        lines = move.invoice_line_ids.filtered(lambda line: line.product_id)
        order = lines.sale_line_ids.order_id[:1]
        skus = product_skus(self.env, self.backend, lines.product_id)
        return {
            "_reference": move.name,
            "number": move.name,
            "date": move.invoice_date,
            "po_number": order.distribution_external_id,
            "po_date": order.date_order,
            "currency": move.currency_id.name,
            "company": move.company_id.name,
            "buyer_id": self.backend.edi_partner_id or "",
            "our_id": self.backend.edi_our_id or "",
            "ship_to": self._ship_to(order.partner_shipping_id),
            "lines": [
                self._item(
                    line.product_id,
                    skus,
                    line.sale_line_ids[:1].distribution_line_external_id,
                    quantity=_qty(line.quantity),
                    unit_price=_qty(line.price_unit),
                    subtotal=_qty(line.price_subtotal),
                )
                for line in lines
            ],
            "total": _qty(move.amount_total),
            "untaxed": _qty(move.amount_untaxed),
            "tax": _qty(move.amount_tax),
        }

    def _inventory_data(self, items):
        Product = self.env["product.product"].with_context(active_test=False)
        rows = []
        for item in items:
            product = Product.search([("default_code", "=", item["sku"])], limit=1)
            rows.append(
                {
                    "sku": item["sku"],
                    "buyer_part": None,
                    "gtin": product.barcode or None,
                    "quantity": _qty(item["quantity"]),
                }
            )
        reference = f"INV{self.backend._edi_next_number('message')}"
        return {
            "_reference": reference,
            "reference": reference,
            "date": fields.Datetime.now(),
            "items": rows,
        }


def _qty(number):
    """A number as EDI writes it: no trailing zeros, no exponent."""
    number = round(float(number or 0), 4)
    return int(number) if number == int(number) else number
