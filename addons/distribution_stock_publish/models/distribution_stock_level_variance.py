from odoo import api, fields, models


class DistributionStockLevel(models.Model):
    """What the channel itself reports for a level, against what we
    published: the stock variance of the dashboard."""

    _inherit = "distribution.stock.level"

    # channel_quantity and channel_quantity_date: the stock drift check
    # (distribution_stock_level_reconcile.py)
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
