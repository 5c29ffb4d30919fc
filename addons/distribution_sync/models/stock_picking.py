from odoo import fields, models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    distribution_carrier = fields.Char(
        string="Carrier (warehouse)",
        copy=False,
        help="Carrier a warehouse or 3PL reported for this shipment.",
    )
    distribution_tracking_ref = fields.Char(
        string="Tracking number (warehouse)",
        copy=False,
        help="Tracking number a warehouse or 3PL reported.",
    )
    distribution_tracking_url = fields.Char(string="Tracking URL", copy=False)
    distribution_exchange_count = fields.Integer(
        compute="_compute_distribution_exchange_count"
    )

    def _distribution_exchange_domain(self):
        return [("res_model", "=", self._name), ("res_id", "in", self.ids)]

    def _compute_distribution_exchange_count(self):
        counts = dict(
            self.env["distribution.exchange"]
            .sudo()
            ._read_group(self._distribution_exchange_domain(), ["res_id"], ["__count"])
        )
        for picking in self:
            picking.distribution_exchange_count = counts.get(picking.id, 0)

    def action_view_distribution_exchanges(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_connector.action_distribution_exchange"
        )
        action["domain"] = self._distribution_exchange_domain()
        action["context"] = {}
        return action
