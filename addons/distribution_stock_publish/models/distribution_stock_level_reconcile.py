from odoo import api, fields, models


class DistributionStockLevel(models.Model):
    """What the channel itself shows for a level (the stock drift check),
    against what we published (the stock variance of the dashboard)."""

    _inherit = "distribution.stock.level"

    channel_quantity = fields.Float(
        string="On the channel",
        readonly=True,
        help="The quantity the channel showed at the last stock check.",
    )
    channel_quantity_date = fields.Datetime(
        string="Checked on", readonly=True, help="When the channel was last checked."
    )
    channel_variance = fields.Float(
        string="Variance",
        compute="_compute_channel_variance",
        help="Channel-reported minus published quantity (nothing published "
        "counts as 0), once the channel reported one.",
    )

    @api.depends("channel_quantity", "channel_quantity_date", "published_qty")
    def _compute_channel_variance(self):
        for level in self:
            level.channel_variance = (
                level.channel_quantity - (level.published_qty or 0.0)
                if level.channel_quantity_date
                else 0.0
            )

    @api.model
    def _describe_step(self, step):
        if step.get("step") == "stale":
            return self.env._(
                "Channel stale: only %(percent)s %% published until it recovers",
                percent=step.get("percent"),
            )
        return super()._describe_step(step)
