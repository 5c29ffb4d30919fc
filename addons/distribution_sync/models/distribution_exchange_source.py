from odoo import fields, models


class DistributionExchangeSource(models.AbstractModel):
    """A record that exchanges produce or describe (sales order, transfer):
    counts them and opens them, for the smart button of its form."""

    _name = "distribution.exchange.source"
    _description = "Record traced by distribution exchanges"

    distribution_exchange_count = fields.Integer(
        compute="_compute_distribution_exchange_count"
    )

    def _distribution_exchange_domain(self):
        return [("res_model", "=", self._name), ("res_id", "in", self.ids)]

    def _compute_distribution_exchange_count(self):
        exchanges = self.env["distribution.exchange"].sudo()
        for record in self:
            record.distribution_exchange_count = (
                exchanges.search_count(record._distribution_exchange_domain())
                if record.id
                else 0
            )

    def action_view_distribution_exchanges(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_connector.action_distribution_exchange"
        )
        action["domain"] = self._distribution_exchange_domain()
        action["context"] = {}
        return action
