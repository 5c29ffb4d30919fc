from odoo import api, models

#: quant fields whose change moves a published quantity
STOCK_FIELDS = {"quantity", "reserved_quantity", "location_id", "product_id"}


class StockQuant(models.Model):
    _inherit = "stock.quant"

    @api.model_create_multi
    def create(self, vals_list):
        quants = super().create(vals_list)
        quants._distribution_mark_dirty()
        return quants

    def write(self, vals):
        if {"location_id", "product_id"} & vals.keys():
            self._distribution_mark_dirty()  # where the stock was
        res = super().write(vals)
        if STOCK_FIELDS & vals.keys():
            self._distribution_mark_dirty()
        return res

    def _distribution_mark_dirty(self):
        self.env["distribution.stock.level"]._mark_products_dirty(self.product_id.ids)
