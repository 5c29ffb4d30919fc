from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = ["sale.order", "distribution.exchange.source"]

    distribution_backend_id = fields.Many2one(
        "distribution.backend",
        string="Channel",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Backend this order was imported from.",
    )
    distribution_external_id = fields.Char(
        string="Channel order id", readonly=True, copy=False, index="btree_not_null"
    )
