from odoo import api, models

from ..engine.query import QUOTATION_STATES

#: line fields that change what a channel quotation takes
QUOTATION_LINE_FIELDS = {"product_id", "product_uom_qty", "product_uom_id", "order_id"}


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines._distribution_quotation_changed()
        return lines

    def write(self, vals):
        if QUOTATION_LINE_FIELDS & vals.keys():
            self._distribution_quotation_changed()  # what it took
        res = super().write(vals)
        if QUOTATION_LINE_FIELDS & vals.keys():
            self._distribution_quotation_changed()
        return res

    def unlink(self):
        self._distribution_quotation_changed()
        return super().unlink()

    def _distribution_quotation_changed(self):
        """Lines of open quotations of channel orders are deducted from the
        free stock: their products are recomputed."""
        lines = self.filtered(
            lambda line: (
                line.product_id
                and line.order_id.distribution_backend_id
                and line.order_id.state in QUOTATION_STATES
            )
        )
        if lines:
            self.env["distribution.stock.level"]._mark_products_dirty(
                lines.product_id.ids
            )
