import json

from odoo import models


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
