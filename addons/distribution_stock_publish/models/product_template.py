from odoo import models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    def write(self, vals):
        res = super().write(vals)
        if "categ_id" in vals:
            # category overrides of the safety stock may apply differently
            self.env["distribution.stock.level"]._mark_products_dirty(
                self.with_context(active_test=False).product_variant_ids.ids
            )
        return res
