from odoo import fields, models

#: order fields that decide whether and where a channel quotation counts
QUOTATION_FIELDS = {"state", "warehouse_id", "distribution_backend_id"}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    distribution_stock_level_count = fields.Integer(
        string="Channel stock",
        compute="_compute_distribution_stock_level_count",
        groups="distribution_connector.group_distribution_user",
    )

    def _distribution_stock_level_domain(self):
        """The channel stock levels of the order's products, on every
        backend: what the order changed in the quantities published."""
        products = self.order_line.product_id.filtered(lambda p: p.is_storable)
        return [("product_id", "in", products.ids)]

    def _compute_distribution_stock_level_count(self):
        levels = self.env["distribution.stock.level"]
        for order in self:
            order.distribution_stock_level_count = (
                levels.search_count(order._distribution_stock_level_domain())
                if order.id
                else 0
            )

    def action_view_distribution_stock_levels(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_stock_publish.action_distribution_stock_level"
        )
        action["domain"] = self._distribution_stock_level_domain()
        return action

    def write(self, vals):
        if QUOTATION_FIELDS & vals.keys():
            self._distribution_quotation_changed()  # where it counted
        res = super().write(vals)
        if QUOTATION_FIELDS & vals.keys():
            self._distribution_quotation_changed()
        return res

    def _distribution_quotation_changed(self):
        """Open quotations of channel orders are deducted from the free
        stock: their products are recomputed when one changes."""
        orders = self.filtered("distribution_backend_id")
        if orders:
            self.env["distribution.stock.level"]._mark_products_dirty(
                orders.order_line.product_id.ids
            )
