from odoo import fields, models


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    distribution_line_external_id = fields.Char(
        string="Channel line id",
        readonly=True,
        copy=False,
        help="The channel's id of this order line, sent back with fulfillments.",
    )
