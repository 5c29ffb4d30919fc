"""Order export: a confirmed order leaves for its 3PL as a CSV file.

One outbound exchange per (backend, order), topic ``order_file``, sent on the
outbound channel like fulfillments (``distribution.exchange
._enqueue_processing``): the file's rows are the order's lines, written with
the backend's column map, dialect and encoding, and uploaded over SFTP (a
temporary name renamed when complete; a retry uploads nothing twice). The
exchange keeps the exact bytes sent; a failure goes to the review queue with
what was to be sent.
"""

import json

from odoo import fields

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.models.distribution_exchange import body_text
from odoo.addons.distribution_sync.flows.common import ORDER_MODEL, product_skus
from odoo.addons.queue_job.exception import RetryableJobError

from ..adapters import csv_mapping

TOPIC = "order_file"


def _field(record, name):
    """A field an optional addon adds (the delivery carrier)."""
    return record[name] if name in record._fields else False


class CsvOrderExport:
    topic = TOPIC
    kind = "order"

    def __init__(self, exchange):
        self.exchange = exchange
        self.backend = exchange.backend_id
        self.env = exchange.env
        self.order = (
            self.env[ORDER_MODEL].browse(exchange.res_id).exists()
            if exchange.res_model == ORDER_MODEL
            else self.env[ORDER_MODEL]
        )

    def run(self):
        order = self.order
        if not order:
            raise PermanentError("The order of this file was deleted.", kind="internal")
        if self.backend.paused:
            # a paused backend sends nothing; the job waits without using up
            # its retries (as fulfillments do)
            raise RetryableJobError(
                f"{self.backend.name} is paused.", seconds=600, ignore_retry=True
            )
        adapter = self.backend._get_adapter()
        try:
            name, data = adapter.order_file(self.rows(), order.name)
        except csv_mapping.FileError as err:
            raise PermanentError(
                f"Order {order.name}: {err}", kind="invalid_payload", key=order.name
            ) from err
        text, charset = body_text(data)
        self.exchange.write({"raw_body": text, "raw_body_charset": charset})
        uploaded = self.backend._sftp_upload(name, data)
        self.exchange.sudo().response_body = json.dumps(
            {"file": name, "bytes": len(data), "uploaded": uploaded}, sort_keys=True
        )
        order.message_post(
            body=self.env._(
                "Order file %(file)s sent to %(backend)s.",
                file=name,
                backend=self.backend.name,
            )
        )
        return order

    def rows(self):
        """One dict of canonical fields (``csv_mapping.FIELDS['order_out']``)
        per line of goods of the order (not services such as shipping)."""
        order = self.order
        lines = order.order_line.filtered(
            lambda line: line.product_id.type == "consu" and not line.display_type
        )
        skus = product_skus(self.env, self.backend, lines.product_id)
        missing = lines.product_id.filtered(lambda p: not skus[p.id])
        if missing:
            raise PermanentError(
                f"{missing[0].display_name} has no SKU for {self.backend.name}: "
                "map it (SKU mapping) or set its internal reference, then retry.",
                kind="unknown_sku",
                key=missing[0].display_name,
            )
        ship_to = order.partner_shipping_id
        carrier = _field(order, "carrier_id")
        head = {
            "order_ref": order.name,
            "order_date": order.date_order,
            "customer_ref": order.client_order_ref,
            "ship_name": ship_to.name,
            "ship_street": ship_to.street,
            "ship_street2": ship_to.street2,
            "ship_zip": ship_to.zip,
            "ship_city": ship_to.city,
            "ship_country": ship_to.country_id.code,
            "ship_phone": ship_to.phone,
            "ship_email": ship_to.email,
            "carrier": carrier.name if carrier else None,
        }
        return [
            {
                **head,
                "line_number": number,
                "sku": skus[line.product_id.id],
                "product_name": line.product_id.name,
                "quantity": line.product_uom_qty,
            }
            for number, line in enumerate(lines, start=1)
        ]

    def payload(self):
        """What the file carries, as JSON (kept on a failed exchange)."""
        rows = [
            {
                key: fields.Datetime.to_string(value) if key == "order_date" else value
                for key, value in row.items()
            }
            for row in self.rows()
        ]
        return {"order": self.order.name, "rows": rows}
