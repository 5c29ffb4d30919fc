from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

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
    distribution_exchange_count = fields.Integer(
        compute="_compute_distribution_exchange_count"
    )

    def _distribution_exchange_domain(self):
        return [("res_model", "=", "sale.order"), ("res_id", "in", self.ids)]

    def _compute_distribution_exchange_count(self):
        counts = dict(
            self.env["distribution.exchange"]
            .sudo()
            ._read_group(self._distribution_exchange_domain(), ["res_id"], ["__count"])
        )
        for order in self:
            order.distribution_exchange_count = counts.get(order.id, 0)

    def action_view_distribution_exchanges(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_connector.action_distribution_exchange"
        )
        action["domain"] = self._distribution_exchange_domain()
        action["context"] = {}
        return action
