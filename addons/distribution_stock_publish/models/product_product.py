from odoo import models


class ProductProduct(models.Model):
    _inherit = "product.product"

    def write(self, vals):
        res = super().write(vals)
        if "active" in vals:
            # an archived product publishes 0; a restored one its stock again
            self.env["distribution.stock.level"]._mark_products_dirty(self.ids)
        return res
