from odoo import api, models

PRODUCT_MODEL = "product.product"


class DistributionBinding(models.Model):
    _inherit = "distribution.binding"

    @api.model_create_multi
    def create(self, vals_list):
        bindings = super().create(vals_list)
        bindings._distribution_products_bound()
        return bindings

    def write(self, vals):
        res = super().write(vals)
        if {"res_model", "res_id", "backend_id"} & vals.keys():
            self._distribution_products_bound()
        return res

    def _distribution_products_bound(self):
        """A product bound to a channel is one it sells: it gets a level
        there, with or without stock."""
        products = self.filtered(lambda binding: binding.res_model == PRODUCT_MODEL)
        if products:
            self.env["distribution.stock.level"]._mark_products_dirty(
                products.mapped("res_id")
            )
