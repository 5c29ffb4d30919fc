import json

from odoo import models

from odoo.addons.distribution_connector.errors import PermanentError

from ..adapters.amazon import NOTIFICATION_KIND, notification_order_id


class DistributionExchange(models.Model):
    _inherit = "distribution.exchange"

    def _order_lines(self, adapter):
        """An order Amazon fulfills comes out of Amazon's stock, not out of
        the merchant listings' quantity: it holds nothing back from the
        published stock and lowers no basis."""
        order_ref, lines = super()._order_lines(adapter)
        if not lines or self.backend_id.adapter != "amazon":
            return order_ref, lines
        try:
            order = json.loads(self.raw_body)["Order"]
        except (ValueError, KeyError, TypeError):
            return order_ref, lines
        if isinstance(order, dict) and order.get("FulfillmentChannel") == "AFN":
            return order_ref, []
        return order_ref, lines

    def _apply(self):
        """An Amazon ``ORDER_CHANGE`` notification names an order: the order
        is read from Amazon and stored in the inbox as a pull stores it (its
        own exchange, processed next); the notification says nothing more."""
        if self.direction != "in" or self.kind != NOTIFICATION_KIND:
            return super()._apply()
        try:
            payload = json.loads(self.raw_body or "")
        except ValueError as err:
            raise PermanentError(
                f"The body is not valid JSON: {err}", kind="invalid_payload"
            ) from err
        order_id = notification_order_id(payload)
        if not order_id:
            raise PermanentError(
                "The notification is no ORDER_CHANGE naming an AmazonOrderId.",
                kind="invalid_payload",
                json_path="$.detail.Payload.OrderChangeNotification.AmazonOrderId",
            )
        backend = self.backend_id.sudo()
        adapter = backend._get_adapter()
        item = adapter.fetch_order(order_id)
        if item:
            backend._store_pulled(adapter, [item], {"pulled": 0, "new": 0, "known": 0})
        return None
