from odoo import fields, models
from odoo.fields import Domain


class SaleOrder(models.Model):
    _name = "sale.order"
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

    def _distribution_exchange_domain(self):
        """What made these orders and what they caused: the exchanges that
        produced them, every exchange of their channel about the same channel
        order (updates, cancellations, refunds, fulfillments sent back), and
        those of their transfers (shipments and receipts from a 3PL)."""
        domain = Domain(super()._distribution_exchange_domain())
        for order in self.filtered("distribution_external_id"):
            backend = order.distribution_backend_id
            domain |= Domain("backend_id", "=", backend.id) & Domain(
                "external_ref", "=", order.distribution_external_id
            )
        if self.picking_ids:
            domain |= Domain("res_model", "=", "stock.picking") & Domain(
                "res_id", "in", self.picking_ids.ids
            )
        return list(domain)
