from odoo import models

#: template fields that decide whether or how the channels publish it
PUBLISHED_FIELDS = {"categ_id", "is_storable", "company_id"}


class ProductTemplate(models.Model):
    _inherit = "product.template"

    def write(self, vals):
        res = super().write(vals)
        if PUBLISHED_FIELDS & vals.keys():
            # category overrides of the safety stock may apply differently;
            # a storable product of the company gets levels
            self.env["distribution.stock.level"]._mark_products_dirty(
                self.with_context(active_test=False).product_variant_ids.ids
            )
        return res
