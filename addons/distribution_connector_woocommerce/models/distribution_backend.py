from odoo import fields, models


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    adapter = fields.Selection(
        selection_add=[("woocommerce", "WooCommerce")],
        ondelete={"woocommerce": "set default"},
    )
