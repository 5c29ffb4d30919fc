from odoo import fields, models

from odoo.addons.distribution_connector.tools.access import USER_GROUP, check_group


class DistributionException(models.Model):
    _inherit = "distribution.exception"

    stock_level_id = fields.Many2one(
        "distribution.stock.level",
        string="Stock level",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
    )
    published_qty = fields.Float(
        related="stock_level_id.published_qty", string="Published"
    )
    channel_quantity = fields.Float(
        related="stock_level_id.channel_quantity", string="On the channel"
    )

    def action_retry(self):
        """Retrying a channel stock drift publishes our quantity again."""
        check_group(self, USER_GROUP)
        drifts = self.filtered(
            lambda exc: (
                exc.state == "open"
                and exc.type == "channel_drift"
                and exc.stock_level_id
            )
        )
        if drifts:
            drifts.stock_level_id.sudo()._enqueue_exports(
                level_ids=drifts.stock_level_id.ids, force=True
            )
            drifts.sudo().write(
                {"state": "resolved", "resolved_at": fields.Datetime.now()}
            )
            for exc in drifts:
                exc.message_post(body=self.env._("Our quantity is published again."))
        return super(DistributionException, self - drifts).action_retry()
