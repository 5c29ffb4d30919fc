"""Shipment confirmation: a warehouse or 3PL shipped (part of) an order.

The delivery is found by its reference (``picking_name``), else through the
order: the sender's ``order_external_id`` is the channel order id bound on
this backend, the Odoo order's name, the channel order id of an order of
another backend of the company (a 3PL shipping a shop's orders), or the
delivery's own reference. The tracking is kept on the delivery; a partial
shipment leaves a backorder.
"""

from odoo.addons.distribution_connector.errors import PermanentError

from .common import ORDER_MODEL, bound_order, is_delivery, unknown_order
from .picking_confirmation import PickingConfirmation


class ShipmentImport(PickingConfirmation):
    kind = "shipment"
    excess_kind = "over_shipment"
    date_key = "shipped_at"

    def _find_picking(self, quantities):
        name = self.data.get("picking_name")
        if name:
            picking = self._deliveries([("name", "=", name)])
            if picking:
                return picking[:1]
        reference = self.data["order_external_id"]
        order = self._order(reference)
        if not order:
            picking = self._deliveries([("name", "=", reference)])
            if picking:
                return picking[:1]
            raise unknown_order(self.backend, reference)
        deliveries = order.picking_ids.filtered(is_delivery).sorted("id")
        if not deliveries:
            raise PermanentError(
                f"Order {order.name} has no delivery to validate.",
                kind="unknown_picking",
                key=reference,
                json_path="$.order_external_id",
            )
        return self._pick_one(deliveries, quantities)

    def _deliveries(self, domain):
        return self._pickings(
            [*domain, ("picking_type_code", "=", "outgoing"), ("return_id", "=", False)]
        )

    def _order(self, reference):
        order = bound_order(self.env, self.backend, reference)
        if order:
            return order
        orders = self.env[ORDER_MODEL]
        company = [("company_id", "=", self.company.id)]
        order = orders.search([*company, ("name", "=", reference)], limit=1)
        if order:
            return order
        order = orders.search(
            [*company, ("distribution_external_id", "=", reference)], limit=2
        )
        return order if len(order) == 1 else orders

    def _before_validate(self, picking):
        data = self.data
        vals = {}
        if data.get("tracking_number"):
            vals["distribution_tracking_ref"] = data["tracking_number"]
            if "carrier_tracking_ref" in picking._fields:
                # the delivery carriers addon's own field, when installed
                vals["carrier_tracking_ref"] = data["tracking_number"]
        if data.get("tracking_url"):
            vals["distribution_tracking_url"] = data["tracking_url"]
        if data.get("carrier"):
            vals["distribution_carrier"] = data["carrier"]
        if vals:
            picking.write(vals)
