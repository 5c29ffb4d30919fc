from odoo import api, fields, models


class DistributionStockLevel(models.Model):
    _inherit = "distribution.stock.level"

    channel_quantity = fields.Float(
        string="On the channel",
        readonly=True,
        help="The quantity the channel showed at the last stock check.",
    )
    channel_quantity_date = fields.Datetime(
        string="Checked on", readonly=True, help="When the channel was last checked."
    )

    @api.model
    def _describe_step(self, step):
        if step.get("step") == "stale":
            return self.env._(
                "Channel stale: only %(percent)s %% published until it recovers",
                percent=step.get("percent"),
            )
        return super()._describe_step(step)
