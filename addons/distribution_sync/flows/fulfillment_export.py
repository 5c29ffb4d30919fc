"""Fulfillment export: a delivery of a channel's order shipped, the channel is
told what shipped, with the carrier and the tracking.

One outbound exchange per delivery (topic ``fulfillment``) carries the
canonical shipment sent and the channel's answer; a failure becomes an
exception on it, retried from the review queue. Sent once: the delivery is
bound to the channel's fulfillment id, and a done exchange is not sent again.
"""

import json

from odoo.addons.distribution_connector.errors import PermanentError

from ..tools import schemas
from .common import (
    PICKING_MODEL,
    format_datetime,
    is_delivery,
    picking_key,
    product_skus,
)

TOPIC = "fulfillment"


def fulfillment_binding(env, backend, picking):
    """The binding of ``picking`` to the channel's fulfillment, if sent."""
    return env["distribution.binding"].search(
        [
            ("backend_id", "=", backend.id),
            ("res_model", "=", PICKING_MODEL),
            ("res_id", "=", picking.id),
            ("external_id", "=like", picking_key(TOPIC, "%")),
        ],
        limit=1,
    )


def _field(record, name):
    """A field an optional addon adds (the delivery carriers' tracking)."""
    return record[name] if name in record._fields else False


def _carrier_name(picking):
    carrier = _field(picking, "carrier_id")
    return carrier.name if carrier else None


class FulfillmentExport:
    topic = TOPIC
    kind = "shipment"

    def __init__(self, exchange):
        self.exchange = exchange
        self.backend = exchange.backend_id
        self.env = exchange.env
        self.picking = (
            self.env[PICKING_MODEL].browse(exchange.res_id).exists()
            if exchange.res_model == PICKING_MODEL
            else self.env[PICKING_MODEL]
        )

    def run(self):
        picking = self.picking
        if not picking:
            raise PermanentError(
                "The delivery of this fulfillment was deleted.", kind="internal"
            )
        if fulfillment_binding(self.env, self.backend, picking):
            return picking  # sent already
        shipment = self.payload()
        self.exchange.raw_body = json.dumps(shipment, indent=2, sort_keys=True)
        result = self.backend._get_adapter().export_fulfillment(shipment) or {}
        # the answer is for managers to read, whoever the job runs as
        self.exchange.sudo().response_body = json.dumps(
            result, sort_keys=True, default=str
        )
        external_id = result.get("external_id")
        if external_id:
            key = picking_key(TOPIC, external_id)
            bindings = self.env["distribution.binding"]
            if not bindings._find(self.backend, PICKING_MODEL, key):
                bindings.create(
                    {
                        "backend_id": self.backend.id,
                        "res_model": PICKING_MODEL,
                        "res_id": picking.id,
                        "external_id": key,
                    }
                )
        picking.message_post(
            body=self.env._(
                "Shipment sent to %(backend)s%(ref)s.",
                backend=self.backend.name,
                ref=f" (fulfillment {external_id})" if external_id else "",
            )
        )
        return picking

    def payload(self):
        """The canonical shipment (``schemas/shipment.json``) of the delivery."""
        picking = self.picking
        order = picking.sale_id
        moves = picking.move_ids.filtered(
            lambda m: m.state == "done" and not m.product_uom.is_zero(m.quantity)
        )
        skus = product_skus(self.env, self.backend, moves.product_id)
        missing = moves.product_id.filtered(lambda p: not skus[p.id])
        if missing:
            raise PermanentError(
                f"{missing[0].display_name} has no SKU for {self.backend.name}: "
                "map it (SKU mapping) or set its internal reference, then retry.",
                kind="unknown_sku",
                key=missing[0].display_name,
            )
        quantities = {}
        for move in moves:
            line_id = move.sale_line_id.distribution_line_external_id or None
            key = (skus[move.product_id.id], line_id)
            quantities[key] = quantities.get(key, 0.0) + move.quantity
        lines = []
        for (sku, line_id), quantity in quantities.items():
            line = {"sku": sku, "quantity": quantity}
            if line_id:
                line["line_external_id"] = line_id
            lines.append(line)
        open_deliveries = order.picking_ids.filtered(
            lambda p: is_delivery(p) and p.state not in ("done", "cancel")
        )
        shipment = {
            "external_id": picking.name,
            "order_external_id": order.distribution_external_id,
            "picking_name": picking.name,
            "shipped_at": format_datetime(picking.date_done),
            "carrier": picking.distribution_carrier or _carrier_name(picking),
            "tracking_number": (
                _field(picking, "carrier_tracking_ref")
                or picking.distribution_tracking_ref
            ),
            "tracking_url": (
                picking.distribution_tracking_url
                or _field(picking, "carrier_tracking_url")
            ),
            "complete": not open_deliveries,
            "lines": lines,
        }
        # the schema wants strings or nothing: unknown values are left out
        shipment = {
            key: value
            for key, value in shipment.items()
            if key == "complete" or value not in (None, False, "")
        }
        return schemas.validate("shipment", shipment)
