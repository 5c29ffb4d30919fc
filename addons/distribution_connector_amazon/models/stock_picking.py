from odoo import models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def _distribution_fulfillment_backend(self):
        """Amazon shipped its FBA orders itself: nothing to confirm."""
        if self.sale_id.amazon_fulfillment_channel == "AFN":
            return None
        return super()._distribution_fulfillment_backend()
