from odoo import api, models

#: product fields that decide whether a channel sells it, or what it offers
PUBLISHED_FIELDS = {"active", "default_code"}


class ProductProduct(models.Model):
    _inherit = "product.product"

    @api.model_create_multi
    def create(self, vals_list):
        products = super().create(vals_list)
        # a product the channels sell gets its levels, publishing 0 until
        # it has stock
        self.env["distribution.stock.level"]._mark_products_dirty(products.ids)
        return products

    def write(self, vals):
        res = super().write(vals)
        if PUBLISHED_FIELDS & vals.keys():
            # an archived product publishes 0; a restored one its stock
            # again; a new internal reference makes it one the channels sell
            self.env["distribution.stock.level"]._mark_products_dirty(self.ids)
        return res
